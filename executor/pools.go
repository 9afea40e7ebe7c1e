package executor

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pgrest/pgrest/apierr"
	"github.com/pgrest/pgrest/cache"
)

// wroteSQL: a transaction that wrote nothing has no transaction id, and
// its response carries no WAL position.
const wroteSQL = "SELECT txid_current_if_assigned() IS NOT NULL"

// finish ends a write transaction with end (COMMIT or ROLLBACK). After a
// COMMIT the WAL position is read in the same round trip, for
// read-your-writes on replicas; failing to read it never fails the write.
func finish(ctx context.Context, conn *pgxpool.Conn, end string, res *Result) error {
	if end != "COMMIT" {
		_, err := conn.Exec(ctx, end)
		return err
	}
	b := &pgx.Batch{}
	b.Queue(wroteSQL)
	b.Queue(end)
	b.Queue(cache.CommittedLSNSQL)
	br := conn.SendBatch(ctx, b)
	var wrote bool
	if err := br.QueryRow().Scan(&wrote); err != nil {
		_ = br.Close() // this error is the one to report
		return err
	}
	if _, err := br.Exec(); err != nil {
		_ = br.Close() // the COMMIT's error is the one to report
		return err
	}
	var lsn int64
	if err := br.QueryRow().Scan(&lsn); err == nil && lsn > 0 && wrote {
		res.LSN = cache.LSN(lsn)
	}
	_ = br.Close() // committed: an error reading the position only loses the header
	return nil
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
