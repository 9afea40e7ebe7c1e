package listener

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pgrest/pgrest/cache"
	"github.com/pgrest/pgrest/migrations"
)

// errPooled: the LISTEN connection goes through a transaction pooler
// (PgBouncer), which hands each transaction to any server connection, so
// notifications would be lost.
var errPooled = errors.New("the LISTEN connection goes through a transaction pooler")

// defaultPollInterval is how often the schema is checked when LISTEN
// cannot work and pgrest-schema-poll-interval is not set.
const defaultPollInterval = time.Second

// checkSession tells a direct session from a pooled one: a pooler answers
// the startup with its own backend key, so the process id it announces is
// not the one of the server process that runs the query. The simple
// protocol: a statement prepared through a pooler may vanish before use.
func checkSession(ctx context.Context, conn *pgx.Conn) error {
	var pid uint32
	if err := conn.QueryRow(ctx, "SELECT pg_backend_pid()", pgx.QueryExecModeSimpleProtocol).Scan(&pid); err != nil {
		return err
	}
	if pid != conn.PgConn().PID() {
		return errPooled
	}
	return nil
}

// pollInstead keeps the schema current without LISTEN: the event log's
// newest id is read every interval and the changes since the snapshot
// applied; without the log, the catalog fingerprint is compared (poll).
func (m *Manager) pollInstead(ctx context.Context) {
	interval := m.opts.PollInterval
	m.opts.Log.Warn().Msg("db-uri goes through a transaction pooler: LISTEN cannot work there; polling the schema instead (set pgrest-db-listen-uri to a direct connection to LISTEN)")
	m.lost.Store(false)
	if interval > 0 {
		<-ctx.Done() // poll() runs already (pgrest-schema-poll-interval)
		return
	}
	t := time.NewTicker(defaultPollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		id, logged, err := migrations.LatestEventID(ctx, m.pool)
		switch {
		case err != nil:
			m.opts.Log.Error().Err(err).Msg("schema poll failed")
		case !logged:
			m.pollFingerprint(ctx)
		case id != versionOf(m.holder.Load()):
			m.noteLatest(id)
			m.Kick()
		}
	}
}

// pollFingerprint reloads when the catalog moved since the last load.
func (m *Manager) pollFingerprint(ctx context.Context) {
	fp, err := m.fingerprint(ctx)
	if err != nil {
		m.opts.Log.Error().Err(err).Msg("schema fingerprint check failed")
		return
	}
	if last, _ := m.loadedFP.Load().(string); fp != last {
		m.loadedFP.Store(fp)
		m.KickFull()
	}
}

// loadLSN is the WAL position as the snapshot is read: past the commit of
// every DDL event the load saw. 0 when it cannot be read.
func loadLSN(ctx context.Context, tx pgx.Tx) cache.LSN {
	var lsn int64
	if err := tx.QueryRow(ctx, cache.CommittedLSNSQL).Scan(&lsn); err != nil || lsn < 0 {
		return 0
	}
	return cache.LSN(lsn)
}
