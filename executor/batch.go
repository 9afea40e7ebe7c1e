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
	x    *Executor
	conn *pgxpool.Conn
	// response are response.headers and response.status as pre-request
	// left them: every plan starts from them, as it would alone, and
	// what one plan sets does not leak into the next.
	response map[string]string
	// opening is BEGIN and the request settings when not sent yet: they go
	// with the first plans when those are prepared on this connection
	// already (else they would be prepared before the role is set).
	opening []*pgx.QueuedQuery
	// settings is the settings statement, prepared once the opening ran.
	settings string
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
	sql, args := settingsStatement(tc, nil, false, false)
	b := &pgx.Batch{}
	b.Queue(beginSQL(isolationLevel, false))
	b.Queue(sql, args...)
	t := &Tx{x: x, conn: conn, response: map[string]string{"response.headers": "", "response.status": ""}, settings: sql}
	t.opening = b.QueuedQueries
	if tc.PreRequest == "" {
		return t, nil
	}
	if err := t.open(ctx); err != nil {
		return nil, err
	}
	{
		// After the settings, so it is prepared under the request's role.
		b = &pgx.Batch{}
		b.Queue("SELECT " + tc.PreRequest + "()")
		b.Queue("SELECT coalesce(current_setting('response.headers', true), ''), coalesce(current_setting('response.status', true), '')").QueryRow(func(r pgx.Row) error {
			var h, st string
			err := r.Scan(&h, &st)
			t.response["response.headers"], t.response["response.status"] = h, st
			return err
		})
		if err := conn.SendBatch(ctx, b).Close(); err != nil {
			t.Abort()
			return nil, err
		}
	}
	return t, nil
}

// open sends BEGIN and the settings on their own.
func (t *Tx) open(ctx context.Context) error {
	b := &pgx.Batch{QueuedQueries: t.opening}
	t.opening = nil
	if err := t.conn.SendBatch(ctx, b).Close(); err != nil {
		t.Abort()
		return err
	}
	return nil
}

// Run sends the steps' statements in one round trip, in order. It returns
// a result per step that ran; on error, failed is the index of the step
// that failed (-1: the transaction's start). After an error the
// transaction is aborted: the caller ends it with Abort.
func (t *Tx) Run(ctx context.Context, steps []Step) (results []*Result, failed int, err error) {
	b, stmts, results, cur := t.queue(steps)
	folded := t.opening != nil
	if folded && t.x.cached && !t.x.prepared.has(t.conn.Conn(), append(stmts, t.settings)) {
		folded = false
		if err = t.open(ctx); err != nil {
			return nil, -1, err
		}
	}
	if folded {
		*cur = -1
		opening := t.opening
		t.opening = nil
		for _, q := range opening {
			q.Exec(func(pgconn.CommandTag) error { return nil })
		}
		b.QueuedQueries = append(opening, b.QueuedQueries...)
	}
	if err = t.conn.SendBatch(ctx, b).Close(); err != nil {
		t.x.prepared.forget(t.conn.Conn())
		if folded && isPermission(err) {
			// A statement we thought prepared was not, and was parsed
			// before the role switch: start over the careful way.
			rollback(t.conn)
			t.opening = requeue(b.QueuedQueries[:2])
			if err = t.open(ctx); err != nil {
				return nil, -1, err
			}
			return t.Run(ctx, steps)
		}
		return results[:max(*cur, 0)], *cur, err
	}
	if t.x.cached {
		t.x.prepared.add(t.conn.Conn(), append(stmts, t.settings))
	}
	return results, -1, nil
}

// requeue copies queued statements without their callbacks.
func requeue(qs []*pgx.QueuedQuery) []*pgx.QueuedQuery {
	out := make([]*pgx.QueuedQuery, len(qs))
	for i, q := range qs {
		out[i] = &pgx.QueuedQuery{SQL: q.SQL, Arguments: q.Arguments}
	}
	return out
}

// queue queues the steps' statements; cur tracks the step whose results
// are being read.
func (t *Tx) queue(steps []Step) (b *pgx.Batch, stmts []string, results []*Result, cur *int) {
	b = &pgx.Batch{}
	cur = new(int)
	results = make([]*Result, len(steps))
	for i, s := range steps {
		res := &Result{}
		results[i] = res
		at := func(fn func(pgx.Rows) error) func(pgx.Rows) error {
			return func(rows pgx.Rows) error { *cur = i; return fn(rows) }
		}
		settings := make(map[string]string, len(s.Settings)+len(t.response))
		for k, v := range t.response {
			settings[k] = v
		}
		for k, v := range s.Settings {
			settings[k] = v
		}
		q, args := localSettings(settings)
		b.Queue(q, args...).Query(at(func(pgx.Rows) error { return nil }))
		queueStep(b, s.Plan, res, at)
	}
	for _, q := range b.QueuedQueries {
		stmts = append(stmts, q.SQL)
	}
	return b, stmts, results, cur
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
	defer t.release()
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

// Abort rolls the transaction back and returns the connection; once
// ended, a transaction ignores it.
func (t *Tx) Abort() {
	if t.conn != nil {
		rollback(t.conn)
		t.release()
	}
}

func (t *Tx) release() {
	t.conn.Release()
	t.conn = nil
}
