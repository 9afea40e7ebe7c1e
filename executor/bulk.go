package executor

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pgrest/pgrest/planner"
)

// runBulk runs a bulk plan: the body goes into the staging table by COPY
// inside the request's transaction, then the statement reads it.
func (x *Executor) runBulk(ctx context.Context, p *planner.Plan, tc *TxContext) (*Result, error) {
	conn, err := x.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	fail := func(err error) (*Result, error) {
		rollback(conn)
		return nil, err
	}
	planned, err := x.open(ctx, conn, p, tc)
	if err != nil {
		return fail(err)
	}
	res := &Result{}
	rows, err := conn.Query(ctx, p.SQL, queryArgs(p)...)
	if err != nil {
		return fail(err)
	}
	if err = scanResult(rows, res, nil); err != nil {
		return fail(err)
	}
	plannedTotal(p, res, planned)
	if err = x.finish(ctx, conn, p, tc, res); err != nil {
		return nil, err
	}
	return res, nil
}

// load copies body into the staging table. A failure of the body itself
// (a malformed line found by the edge, a body too large) is that error,
// not the COPY's "COPY from stdin failed"; a value PostgreSQL refuses
// names its line.
func load(ctx context.Context, conn *pgxpool.Conn, p *planner.Plan, body io.Reader) error {
	if body == nil {
		body = strings.NewReader("")
	}
	r := &errReader{r: body}
	_, err := conn.Conn().PgConn().CopyFrom(ctx, r, p.BulkCopy)
	if err == nil {
		return nil
	}
	if r.err != nil {
		return r.err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Detail == "" {
		if at, ok := strings.CutPrefix(pe.Where, "COPY _pgrest_bulk, "); ok {
			c := *pe
			c.Detail = copyPlace(p.BulkUnit, at)
			return &c
		}
	}
	return err
}

// copyPlace turns COPY's context ("line 7, column qty: \"x\"") into the
// error's details: the line (or row, unit) of the body and the column.
func copyPlace(unit, at string) string {
	line, col, hasCol := strings.Cut(at, ", column ")
	n, ok := strings.CutPrefix(line, "line ")
	if !ok {
		return at
	}
	out := unit + " " + n + " of the body"
	if hasCol {
		name, _, _ := strings.Cut(col, ": ")
		out += ", column " + name
	}
	return out
}

// errReader remembers the error its reader returned, other than EOF.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(b []byte) (int, error) {
	n, err := e.r.Read(b)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}
