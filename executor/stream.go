package executor

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pgrest/pgrest/planner"
)

// Sink receives a streamed plan (planner.Plan.Stream) as it is read.
type Sink interface {
	// Start is called once, before the first line: head has the total and
	// the response settings. An error from Start ends the request before
	// anything was sent (the transaction rolls back).
	Start(head *Result) error
	// Line is called for each row's line, in order; the slice is only
	// valid during the call. An error stops the statement.
	Line(line []byte) error
}

// StreamError is an error that happened after Sink.Start succeeded: the
// response is under way and can only be cut short.
type StreamError struct{ Err error }

// Error says the error came after the response started.
func (e *StreamError) Error() string { return "after the response started: " + e.Err.Error() }

// Unwrap is the error itself.
func (e *StreamError) Unwrap() error { return e.Err }

// Stream runs a streamed plan in one transaction, with the same role,
// settings and pre-request as Run, handing each row to sink as pgx reads
// it: no row is kept. The result has the page total (lines sent) and the
// total. A failure after Start is a *StreamError; the context's
// cancellation (a client gone) cancels the statement.
func (x *Executor) Stream(ctx context.Context, p *planner.Plan, tc *TxContext, sink Sink) (*Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	conn, err := x.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	fail := func(err error) (*Result, error) {
		// A cancelled statement leaves the connection in doubt: closed, not pooled.
		cancel()
		rollback(conn)
		x.prepared.forget(conn.Conn())
		return nil, err
	}
	planned, err := x.open(ctx, conn, p, tc)
	if err != nil {
		return fail(err)
	}
	rows, err := conn.Query(ctx, p.SQL, queryArgs(p)...)
	if err != nil {
		return fail(err)
	}
	res := &Result{}
	started := false
	for rows.Next() {
		if !started {
			if err = rows.Scan(nil, &res.Total, &res.RespHeaders, &res.RespStatus); err != nil {
				rows.Close()
				return fail(err)
			}
			plannedTotal(p, res, planned)
			if err = sink.Start(res); err != nil {
				cancel() // rows.Close would read every remaining row
				rows.Close()
				return fail(err)
			}
			started = true
		}
		line := rows.RawValues()[0]
		if line == nil { // the one row of an empty result
			continue
		}
		res.PageTotal++
		if err = sink.Line(line); err != nil {
			cancel()
			rows.Close()
			_, err = fail(err)
			return nil, &StreamError{err}
		}
	}
	rows.Close()
	if err = rows.Err(); err != nil {
		_, err = fail(err)
		if started {
			err = &StreamError{err}
		}
		return nil, err
	}
	if !started {
		return fail(errors.New("streamed statement returned no row"))
	}
	if err = x.finish(ctx, conn, p, tc, res); err != nil {
		rollback(conn)
		return nil, &StreamError{err}
	}
	return res, nil
}

// open starts a plan's transaction on conn: BEGIN, the settings, the
// pre-request, the planned count (returned) and, for a bulk plan, the
// load of the body. The role is set before the statement is prepared
// (see runOnce).
func (x *Executor) open(ctx context.Context, conn *pgxpool.Conn, p *planner.Plan, tc *TxContext) (*int64, error) {
	iso := p.Settings["default_transaction_isolation"]
	if iso == "" {
		iso = tc.RoleIsolation
	}
	begin := beginSQL(iso, p.ReadOnly)
	settingsSQL, settingsArgs := settingsStatement(tc, p.Settings, false, false)
	b := &pgx.Batch{}
	b.Queue(begin)
	b.Queue(settingsSQL, settingsArgs...)
	tc.record(settingsSQL, Statements(p, tc))
	if tc.PreRequest != "" {
		b.Queue(preRequestSQL(tc))
	}
	var planned *int64
	queueCount(b, p, &planned)
	if p.BulkStage != "" {
		b.Queue(p.BulkStage)
	}
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	if p.BulkStage != "" {
		return planned, load(ctx, conn, p, tc.Body)
	}
	return planned, nil
}

// queryArgs are the arguments of a plan's statement. A bulk statement
// names a table that lives for one transaction: it is not prepared and
// cached like the others.
func queryArgs(p *planner.Plan) []any {
	if p.BulkStage == "" {
		return p.Args
	}
	return append([]any{pgx.QueryExecModeExec}, p.Args...)
}
