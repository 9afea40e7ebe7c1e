package executor

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pgrest/pgrest/apierr"
	"github.com/pgrest/pgrest/cache"
)

// wroteSQL: a transaction that wrote nothing has no transaction id, and
// its response carries no WAL position.
const wroteSQL = "SELECT txid_current_if_assigned() IS NOT NULL"

// commitLSN is a COMMIT that also reads the commit's WAL position, in
// the same round trip, for a transaction that wrote something.
type commitLSN struct {
	wrote bool
	lsn   int64
}

// queue adds the COMMIT to b, with whether the transaction wrote before
// it and the position after it. A failure reading the position after
// the commit only loses the header, never the committed write.
func (c *commitLSN) queue(b *pgx.Batch) {
	b.Queue(wroteSQL).QueryRow(func(r pgx.Row) error { return r.Scan(&c.wrote) })
	b.Queue("COMMIT")
	b.Queue(cache.CommittedLSNSQL).QueryRow(func(r pgx.Row) error {
		if err := r.Scan(&c.lsn); err != nil {
			c.lsn = 0
		}
		return nil
	})
}

// set gives res the position, when the transaction wrote.
func (c *commitLSN) set(res *Result) {
	if c.wrote && c.lsn > 0 && res != nil {
		res.LSN = cache.LSN(c.lsn)
	}
}

// Retryable reports whether a read that failed on a replica may run again
// on the primary: the replica could not be reached or went away, or a
// recovery conflict cancelled it, before any of the answer was sent.
// Errors of the request itself (SQLSTATEs of the statement) are not.
func Retryable(err error) bool {
	var ae *apierr.Error
	if errors.As(err, &ae) {
		// The pool could not connect, or had no connection free in time.
		return ae.Code == "PGRST001" || ae.Code == "PGRST003"
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		if pe.Code == "57014" {
			return false // statement_timeout: the primary would time out too
		}
		switch pe.Code[:2] {
		case "08", "57", "53": // connection, operator intervention (shutdown, conflict), resources
			return true
		}
		return pe.Code == "40001" || pe.Code == "40P01" // cancelled by a recovery conflict
	}
	return err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}
