package executor

import (
	"context"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pgrest/pgrest/planner"
)

// Tx is one transaction that runs several plans in turn (a batch): the
// role, the request settings and pre-request once, then the plans, then
// one COMMIT or ROLLBACK.
type Tx struct {
	x          *Executor
	conn       *pgxpool.Conn
	preRequest string // still to run, before the first plan
}

// Step is one plan of a transaction and the transaction-local settings
// it needs before its statement (search_path of its schema, a function's
// hoisted settings).
type Step struct {
	Plan     *planner.Plan
	Settings map[string]string
}

// Begin opens a transaction as tc's role with tc's settings; isolationLevel
// is a default_transaction_isolation value ("" for READ COMMITTED). The
// settings run before any plan is sent, so every statement is prepared
// under the request's role.
func (x *Executor) Begin(ctx context.Context, tc *TxContext, isolationLevel string) (*Tx, error) {
	t, err := x.begin(ctx, tc, isolationLevel)
	// A pooled connection broken by a restart fails before anything ran.
	if err != nil && (pgconn.SafeToRetry(err) || connectionLost(err)) {
		return x.begin(ctx, tc, isolationLevel)
	}
	return t, err
}

func (x *Executor) begin(ctx context.Context, tc *TxContext, isolationLevel string) (*Tx, error) {
	conn, err := x.acquire(ctx)
	if err != nil {
		return nil, err
	}
	sql, args := settingsStatement(tc, nil)
	b := &pgx.Batch{}
	b.Queue("BEGIN ISOLATION LEVEL " + isolation(isolationLevel))
	b.Queue(sql, args...)
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		rollback(conn)
		conn.Release()
		return nil, err
	}
	t := &Tx{x: x, conn: conn}
	if tc.PreRequest != "" {
		t.preRequest = "SELECT " + tc.PreRequest + "()"
	}
	return t, nil
}

// Run sends the steps' statements in one round trip, in order. It returns
// a result per step that ran; on error, failed is the index of the step
// that failed (-1 for the pre-request function). After an error the
// transaction is aborted: the caller ends it with Abort.
func (t *Tx) Run(ctx context.Context, steps []Step) (results []*Result, failed int, err error) {
	b := &pgx.Batch{}
	cur := -1
	if t.preRequest != "" {
		b.Queue(t.preRequest)
		t.preRequest = ""
	}
	results = make([]*Result, len(steps))
	for i, s := range steps {
		res := &Result{}
		results[i] = res
		at := func(fn func(pgx.Rows) error) func(pgx.Rows) error {
			return func(rows pgx.Rows) error { cur = i; return fn(rows) }
		}
		if len(s.Settings) > 0 {
			q, args := localSettings(s.Settings)
			b.Queue(q, args...).Query(at(func(pgx.Rows) error { return nil }))
		}
		queueStep(b, s.Plan, res, at)
	}
	if err = t.conn.SendBatch(ctx, b).Close(); err != nil {
		t.x.prepared.forget(t.conn.Conn())
		return results[:max(cur, 0)], cur, err
	}
	return results, -1, nil
}

// queueStep queues a plan's statements: its planned count, then the
// statement or its EXPLAIN.
func queueStep(b *pgx.Batch, p *planner.Plan, res *Result, at func(func(pgx.Rows) error) func(pgx.Rows) error) {
	var planned *int64
	if p.CountSQL != "" {
		b.Queue("EXPLAIN (FORMAT JSON) "+p.CountSQL, p.Args...).Query(at(func(rows pgx.Rows) error {
			var raw []byte
			if _, err := pgx.ForEachRow(rows, []any{&raw}, func() error { return nil }); err != nil {
				return err
			}
			n, err := planRows(raw)
			planned = &n
			return err
		}))
	}
	if p.Explain != "" {
		b.Queue("EXPLAIN ("+p.Explain+") "+p.SQL, p.Args...).Query(at(func(rows pgx.Rows) error {
			var line string
			_, err := pgx.ForEachRow(rows, []any{&line}, func() error {
				res.Plan = append(append(res.Plan, line...), '\n')
				return nil
			})
			return err
		}))
		return
	}
	b.Queue(p.SQL, p.Args...).Query(at(func(rows pgx.Rows) error {
		if err := scanResult(rows, res, nil); err != nil {
			return err
		}
		plannedTotal(p, res, planned)
		return nil
	}))
}

// localSettings sets transaction-local settings in one SELECT; names come
// from configuration or the catalog, values are parameters.
func localSettings(m map[string]string) (string, []any) {
	var sb strings.Builder
	args := make([]any, 0, 2*len(m))
	sb.WriteString("SELECT ")
	for i, k := range sortedKeys(m) {
		if i > 0 {
			sb.WriteString(", ")
		}
		args = append(args, k, m[k])
		sb.WriteString("set_config($" + strconv.Itoa(2*i+1) + ", $" + strconv.Itoa(2*i+2) + ", true)")
	}
	return sb.String(), args
}

// Finish ends the transaction: COMMIT, or ROLLBACK (after checking
// deferred constraints, so a rolled-back batch still reports them).
func (t *Tx) Finish(ctx context.Context, rollbackAll bool) error {
	defer t.conn.Release()
	end := "COMMIT"
	if rollbackAll {
		end = "ROLLBACK"
		if _, err := t.conn.Exec(ctx, "SET CONSTRAINTS ALL IMMEDIATE"); err != nil {
			rollback(t.conn)
			return err
		}
	}
	if _, err := t.conn.Exec(ctx, end); err != nil {
		rollback(t.conn)
		return err
	}
	return nil
}

// Abort rolls the transaction back and returns the connection.
func (t *Tx) Abort() {
	rollback(t.conn)
	t.conn.Release()
}
