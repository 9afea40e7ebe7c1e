package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pgrest/pgrest/apierr"
)

// Fatal delivers an error pgrest cannot serve past: the database refused
// the credentials or the database, or a connection was lost with
// db-pool-automatic-recovery = false. main exits 1 on it, as PostgREST.
func (a *App) Fatal() <-chan error { return a.fatal }

func (a *App) die(err error) {
	select {
	case a.fatal <- err:
	default:
	}
}

// connect waits for the database at startup the way PostgREST's connection
// worker does: a refused login or a missing database ends pgrest, anything
// else is retried with a growing delay unless automatic recovery is off.
func (a *App) connect(ctx context.Context) bool {
	cfg := a.config()
	a.log.Log().Msg(fmt.Sprintf("Connection Pool initialized with a maximum size of %d connections", cfg.DBPool))
	delay := time.Second
	for {
		version, num, err := a.serverVersion(ctx)
		if err == nil && num < minPGVersion {
			a.log.Log().Msg(fmt.Sprintf("Cannot run in this PostgreSQL version (%s), PostgREST needs at least PostgreSQL %d", pgName(version), minPGVersion/10000))
			a.die(fmt.Errorf("unsupported PostgreSQL version %d", num))
			return false
		}
		if err == nil {
			a.log.Log().Msg("Successfully connected to " + version)
			if !cfg.DBPoolAutomaticRecovery {
				go a.watchConnection(ctx)
			}
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		switch {
		case fatalConnError(err):
			a.log.Log().Msg("Failed to establish a connection. " + connErrorJSON(err))
			a.die(err)
			return false
		case !cfg.DBPoolAutomaticRecovery:
			a.log.Log().Msg(connErrorJSON(err))
			a.log.Log().Msg("Automatic recovery disabled, exiting.")
			a.die(err)
			return false
		}
		a.log.Log().Msg(connErrorJSON(err))
		a.log.Log().Msg(fmt.Sprintf("Attempting to reconnect to the database in %d seconds...", int(delay.Seconds())))
		select {
		case <-ctx.Done():
			return false
		case <-time.After(delay):
		}
		if delay < 32*time.Second {
			delay *= 2
		}
	}
}

// minPGVersion: PostgREST v16 needs PostgreSQL 14 or later.
const minPGVersion = 140000

func (a *App) serverVersion(ctx context.Context) (string, int, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var v string
	var num int
	err := a.pool.QueryRow(cctx, "SELECT pg_catalog.version(), current_setting('server_version_num')::int").Scan(&v, &num)
	return v, num, err
}

// pgName is "PostgreSQL 13.4" out of version()'s longer text.
func pgName(version string) string {
	f := strings.Fields(version)
	if len(f) >= 2 {
		return f[0] + " " + f[1]
	}
	return version
}

// fatalConnError: PostgreSQL refused the login (28xxx) or has no such
// database (3D000); retrying cannot help.
func fatalConnError(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	return strings.HasPrefix(pe.Code, "28") || pe.Code == "3D000"
}

// connErrorJSON is PostgREST's PGRST000 body for a connection error.
func connErrorJSON(err error) string {
	return string(apierr.ConnectionFailed(err.Error()).JSON())
}

// watchConnection ends pgrest when the database connection is lost and
// db-pool-automatic-recovery is off. A pool too busy to lend a connection
// within the probe's timeout is not a lost connection.
func (a *App) watchConnection(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := a.pool.Ping(pctx)
		cancel()
		if err == nil || ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
			continue
		}
		a.log.Log().Msg(connErrorJSON(err))
		a.log.Log().Msg("Automatic recovery disabled, exiting.")
		a.die(err)
		return
	}
}
