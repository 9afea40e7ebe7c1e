package server

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// timing records how long each phase of a request took, for the
// Server-Timing header (server-timing-enabled). The header is written when
// the response starts, whichever path the request took.
type timing struct {
	http.ResponseWriter
	last    time.Time
	phases  []string
	written bool
}

func newTiming(w http.ResponseWriter) *timing {
	return &timing{ResponseWriter: w, last: time.Now()}
}

// mark ends the phase called name.
func (t *timing) mark(name string) {
	now := time.Now()
	ms := float64(now.Sub(t.last).Microseconds()) / 1000
	t.phases = append(t.phases, name+";dur="+strconv.FormatFloat(ms, 'f', 1, 64))
	t.last = now
}

func (t *timing) WriteHeader(status int) {
	if !t.written {
		t.written = true
		t.mark("response")
		t.Header().Set("Server-Timing", strings.Join(t.phases, ", "))
	}
	t.ResponseWriter.WriteHeader(status)
}

func (t *timing) Write(b []byte) (int, error) {
	if !t.written {
		t.WriteHeader(http.StatusOK)
	}
	return t.ResponseWriter.Write(b)
}
