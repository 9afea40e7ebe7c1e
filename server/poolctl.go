package server

import (
	"os"
	"strconv"
	"time"
)

// FlushPool closes the pooled connections (in-flight ones once released),
// as PostgREST does on SIGUSR1: new connections pick up changed settings
// of the authenticator role.
func (a *App) FlushPool() { a.pool.Reset() }

// internalSleep reads one of PostgREST's internal test settings (in
// milliseconds), which slow the schema cache load down on purpose.
func internalSleep(env string) time.Duration {
	ms, err := strconv.Atoi(os.Getenv(env))
	if err != nil || ms <= 0 {
		return 0
	}
	return time.Duration(ms) * time.Millisecond
}
