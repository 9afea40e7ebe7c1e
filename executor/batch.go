package executor

import (
	"context"
	"errors"
	"maps"
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
	// held are the transaction-local settings the transaction holds now,
	// as far as known: a step sends only those it needs that differ.
	held map[string]string
	// Careful makes every step set its settings and reset the response
	// settings, known or not (a batch run again after a step was found
	// to have set them unforeseen).
	Careful bool
	// opening is BEGIN and the request settings when not sent yet: they go
	// with the first plans when those are prepared on this connection
	// already (else they would be prepared before the role is set).
	opening []*pgx.QueuedQuery
	// settings is the settings statement, prepared once the opening ran.
	settings string
	// implicit is the opening without BEGIN when the transaction's level
	// is the default: a batch sent whole in one round trip that commits at
	// its end is one transaction without BEGIN and COMMIT (PostgreSQL's
	// pipelining), as a single request's.
	implicit *pgx.QueuedQuery
	// explicit is the opening with BEGIN, kept to start over with.
	explicit []*pgx.QueuedQuery
	// committed: COMMIT went with the last steps.
	committed bool
	// roleSettings are the role's settings, which the opening set; left
	// are the names an earlier step set beyond them (a function's hoisted
	// settings): a step that does not set one puts back what it would see
	// alone, the role's value or the server's default.
	roleSettings map[string]string
	left         map[string]bool
}

// serverDefault stands for "the session's default" among the values a step
// sets (set_config with NULL: SET LOCAL ... TO DEFAULT). A setting's value
// is text, which cannot hold a NUL byte, so no real value looks like it.
const serverDefault = "\x00default"

// End is how a Run ends the transaction.
type End int

const (
	// Open leaves the transaction open (Finish ends it).
	Open End = iota
	// Commit commits in the same round trip: the caller knows nothing after
	// the steps can fail, or that there is nothing to undo.
	Commit
	// CommitGuarded commits in the same round trip too, unless a step
	// changes the response settings (which could make its answer an
	// error): then nothing is committed and Run returns ErrUnfold.
	CommitGuarded
)

// ErrUnfold: a step changed the response settings in a run that was to
// commit with its steps; nothing was committed. Run the batch again,
// committing on its own.
var ErrUnfold = errors.New("executor: a step changed the response settings before a folded COMMIT")

// guardSQL is true while the response settings are unset or empty, and
// fails (22P02, naming planner.GuardMark) otherwise.
const guardSQL = `(CASE WHEN ` + planner.GuardCheck + ` THEN NULL ELSE ` + planner.GuardFail + ` END) IS NULL`

// ErrRedo: a step read response settings an earlier step left behind;
// the transaction must be aborted and the batch run again with Careful.
var ErrRedo = errors.New("executor: a step saw an earlier step's response settings")

// Step is one plan of a transaction and the transaction-local settings
// it needs before its statement (search_path of its schema, a function's
// hoisted settings).
type Step struct {
	Plan     *planner.Plan
	Settings map[string]string
	// Opaque: the step runs SQL of the user's that may set settings (a
	// function, a write's triggers), so the next step sets all it needs.
	Opaque bool
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
	t := &Tx{x: x, conn: conn, response: map[string]string{"response.headers": "", "response.status": ""}, settings: sql, roleSettings: tc.RoleSettings}
	t.opening = b.QueuedQueries
	t.explicit = requeue(b.QueuedQueries)
	if defaultIsolation(isolationLevel) && defaultIsolation(tc.RoleIsolation) {
		isql, iargs := settingsStatement(tc, nil, true, false)
		t.implicit = &pgx.QueuedQuery{SQL: isql, Arguments: iargs}
	}
	if tc.PreRequest == "" {
		// Nothing set response settings yet (unset reads as empty), and
		// the search path is the one just set, unless the role sets it.
		t.held = map[string]string{"response.headers": "", "response.status": ""}
		if _, ok := tc.RoleSettings["search_path"]; !ok {
			t.held["search_path"] = tc.SearchPath
		}
		return t, nil
	}
	if err := t.open(ctx); err != nil {
		return nil, err
	}
	{
		// After the settings, so it is prepared under the request's role.
		b = &pgx.Batch{}
		b.Queue(preRequestSQL(tc))
		b.Queue("SELECT coalesce(current_setting('response.headers', true), ''), coalesce(current_setting('response.status', true), '')").QueryRow(func(r pgx.Row) error {
			var h, st string
			err := r.Scan(&h, &st)
			t.response["response.headers"], t.response["response.status"] = h, st
			t.held = map[string]string{"response.headers": h, "response.status": st}
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

// Run sends the steps' statements in one round trip, in order, ending the
// transaction there as end says. It returns a result per step that ran;
// on error, failed is the index of the step that failed (-1: the
// transaction's start or its COMMIT). After an error the transaction is
// aborted: the caller ends it with Abort (and on ErrRedo runs the batch
// again with Careful, on ErrUnfold again with Open).
func (t *Tx) Run(ctx context.Context, steps []Step, end End) (results []*Result, failed int, err error) {
	if end == CommitGuarded && (t.response["response.headers"] != "" || t.response["response.status"] != "") {
		end = Open // the guard knows empty settings only
	}
	held := maps.Clone(t.held)
	b, stmts, results, cur, reset := t.queue(steps, end == CommitGuarded)
	folded := t.opening != nil
	implicit := folded && end != Open && t.implicit != nil && t.x.cached && !t.x.explicitBegin.Load()
	commit := func() {
		// A failing COMMIT (a deferred constraint) is the batch's own error.
		b.Queue("COMMIT").Query(func(rows pgx.Rows) error { *cur = -1; rows.Close(); return rows.Err() })
		stmts = append(stmts, "COMMIT")
	}
	if !implicit && end != Open {
		commit()
	}
	// The implicit settings statement names no schema object: unlike the
	// steps', it may be prepared before the role is set.
	settings, check := t.settings, append(stmts, t.settings)
	if implicit {
		settings, check = t.implicit.SQL, stmts
	}
	if folded && t.x.cached && !t.x.prepared.has(t.conn.Conn(), check) {
		if implicit {
			commit()
		}
		folded, implicit, settings = false, false, t.settings
		if err = t.open(ctx); err != nil {
			return nil, -1, err
		}
	}
	if folded {
		*cur = -1
		opening := t.opening
		t.opening = nil
		if implicit {
			opening = []*pgx.QueuedQuery{{SQL: t.implicit.SQL, Arguments: t.implicit.Arguments}}
			// The commit comes with the Sync, after the last statement: a
			// failure then (a deferred constraint) is the batch's own.
			last := b.QueuedQueries[len(b.QueuedQueries)-1]
			fn := last.Fn
			last.Fn = func(br pgx.BatchResults) error {
				if ferr := fn(br); ferr != nil {
					return ferr
				}
				*cur = -1
				return nil
			}
		}
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
			t.opening = requeue(t.explicit)
			t.held = held
			if err = t.open(ctx); err != nil {
				return nil, -1, err
			}
			return t.Run(ctx, steps, end)
		}
		if isGuard(err) {
			return nil, -1, ErrUnfold
		}
		if implicit && isolationRefused(err) {
			// The session's default level is not READ COMMITTED: nothing
			// ran; BEGIN from now on.
			t.x.explicitBegin.Store(true)
			return nil, -1, ErrUnfold
		}
		done := results[:max(*cur, 0)]
		if t.stale(done, reset) {
			return done, -1, ErrRedo
		}
		return done, *cur, err
	}
	if t.x.cached {
		t.x.prepared.add(t.conn.Conn(), append(stmts, settings))
	}
	t.committed = end != Open
	if t.stale(results, reset) {
		return results, -1, ErrRedo
	}
	if !t.baseline(results[len(results)-1]) {
		// The next step resets them.
		delete(t.held, "response.headers")
		delete(t.held, "response.status")
	}
	return results, -1, nil
}

// stale reports a step that ran after another left response settings
// other than the baseline, with no reset between them: its answer (and
// what its SQL read) is not what it would be alone.
func (t *Tx) stale(results []*Result, reset []bool) bool {
	for i := 0; i+1 < len(reset) && i < len(results); i++ {
		if !reset[i+1] && !t.baseline(results[i]) {
			return true
		}
	}
	return false
}

// baseline reports a result whose response settings are pre-request's.
func (t *Tx) baseline(res *Result) bool {
	return res.Plan != nil || (deref(res.RespHeaders) == t.response["response.headers"] && deref(res.RespStatus) == t.response["response.status"])
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func isGuard(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "22P02" && strings.Contains(pe.Message, planner.GuardMark)
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
// are being read, reset[i] says step i's response settings were reset
// before it.
//
// guarded: every step checks, when it ends, that the response settings are
// still empty and the search path still its own (planner.Plan.Guarded),
// and a last guard checks the settings once the last step's triggers ran;
// the settings then need no reset, nor the search path a new set_config.
// A step that cannot check itself gets a guard statement after it.
func (t *Tx) queue(steps []Step, guarded bool) (b *pgx.Batch, stmts []string, results []*Result, cur *int, reset []bool) {
	b = &pgx.Batch{}
	cur = new(int)
	results = make([]*Result, len(steps))
	reset = make([]bool, len(steps))
	checked := true // the state before the step is known to be as held
	for i, s := range steps {
		res := &Result{}
		results[i] = res
		at := func(fn func(pgx.Rows) error) func(pgx.Rows) error {
			return func(rows pgx.Rows) error { *cur = i; return fn(rows) }
		}
		m := t.needs(s)
		_, reset[i] = m["response.status"]
		if guarded && i > 0 {
			// A guard checked them before the step instead.
			delete(m, "response.headers")
			delete(m, "response.status")
		}
		if len(m) > 0 || !checked {
			q, args := localSettings(m, !checked)
			b.Queue(q, args...).Query(at(func(pgx.Rows) error { return nil }))
		}
		sql, args := s.Plan.SQL, s.Plan.Args
		path, hasPath := s.Settings["search_path"]
		checked = !guarded
		if guarded && hasPath && s.Plan.Explain == "" {
			if gsql, ok := s.Plan.Guarded(); ok {
				sql, args, checked = gsql, append(args[:len(args):len(args)], path), true
				t.held["search_path"] = path
				t.held["response.headers"], t.held["response.status"] = "", ""
			}
		}
		queueStep(b, s.Plan, sql, args, res, at)
	}
	if guarded {
		b.Queue("SELECT WHERE " + guardSQL).Query(func(pgx.Rows) error { return nil })
	}
	for _, q := range b.QueuedQueries {
		stmts = append(stmts, q.SQL)
	}
	return b, stmts, results, cur, reset
}

// needs is what a step must set before it runs: its settings and the
// response settings, those the transaction is not known to hold already,
// and back to what it would see alone any setting an earlier step left.
func (t *Tx) needs(s Step) map[string]string {
	m := make(map[string]string, len(s.Settings)+len(t.response)+len(t.left))
	for _, want := range []map[string]string{t.response, s.Settings} {
		for k, v := range want {
			if held, ok := t.held[k]; t.Careful || !ok || held != v {
				m[k] = v
			}
		}
	}
	for k := range t.left {
		if _, own := s.Settings[k]; own {
			continue
		}
		v, ok := t.roleSettings[k]
		if !ok {
			v = serverDefault
		}
		if held, ok := t.held[k]; t.Careful || !ok || held != v {
			m[k] = v
		}
	}
	for k := range s.Settings {
		if k != "search_path" {
			if t.left == nil {
				t.left = map[string]bool{}
			}
			t.left[k] = true
		}
	}
	if s.Opaque {
		clear(t.held)
		return m
	}
	maps.Copy(t.held, m)
	return m
}

// queueStep queues a plan's statements: its planned count, then the
// statement or its EXPLAIN.
func queueStep(b *pgx.Batch, p *planner.Plan, sql string, args []any, res *Result, at func(func(pgx.Rows) error) func(pgx.Rows) error) {
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
	b.Queue(sql, args...).Query(at(func(rows pgx.Rows) error {
		if err := scanResult(rows, res, nil); err != nil {
			return err
		}
		plannedTotal(p, res, planned)
		return nil
	}))
}

// localSettings sets transaction-local settings in one SELECT; names come
// from configuration or the catalog, values are parameters. With guard,
// the guard runs first (a WHERE runs before the SELECT list).
func localSettings(m map[string]string, guard bool) (string, []any) {
	names := sortedKeys(m)
	args := make([]any, len(names))
	for i, k := range names {
		if v := m[k]; v != serverDefault {
			args[i] = v
		} // else NULL: the session's default
	}
	sql := setConfigSQL(names)
	if guard {
		sql += " WHERE " + guardSQL
	}
	return sql, args
}

// Finish ends the transaction: COMMIT, or ROLLBACK (after checking
// deferred constraints, so a rolled-back batch still reports them).
func (t *Tx) Finish(ctx context.Context, rollbackAll bool) error {
	defer t.release()
	if t.committed {
		return nil
	}
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
