// Package executor runs a plan in one PostgreSQL transaction: role and
// request settings, pre-request, the statement, checks before COMMIT, and
// maps SQLSTATEs to PostgREST's HTTP errors. It knows plans, not HTTP
// requests.
package executor

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pgrest/pgrest/apierr"
	"github.com/pgrest/pgrest/cache"
	"github.com/pgrest/pgrest/planner"
)

// TxContext is what a request's transaction must know about the request
// itself: who it runs as and the request.* settings it exposes to SQL.
type TxContext struct {
	Role          string
	Authenticated bool
	ClaimsJSON    string
	Method        string
	Path          string
	HeadersJSON   string
	CookiesJSON   string
	SearchPath    string
	Timezone      string
	AppSettings   map[string]string
	// RoleSettings are the role's own ALTER ROLE ... SET settings and
	// RoleIsolation its default_transaction_isolation (a function's wins).
	RoleSettings  map[string]string
	RoleIsolation string
	PreRequest    string // already quoted, "" when none
	Rollback      bool   // end the transaction with ROLLBACK (db-tx-end / Prefer: tx)
	// Check runs on the Result before COMMIT; an error rolls back, so a
	// write never half-happens when its response cannot be given.
	Check func(*Result) error
	// Deliver, when set, sends a read-only plan's response from inside the
	// batch, while the body is still in pgx's read buffer: a large body is
	// then never copied. The COMMIT that follows cannot change the answer
	// of a read-only transaction.
	Deliver func(*Result)
	// Body is what a bulk plan's COPY reads (planner.Plan.BulkCopy).
	Body io.Reader
	// Record asks for Sent: the statements sent, settings first, in
	// order (log-query).
	Record bool
	Sent   []string
}

// record notes the statements a transaction sends when asked to.
func (tc *TxContext) record(settings string, stmts []string) {
	if tc.Record {
		tc.Sent = append(append(tc.Sent[:0], settings), stmts...)
	}
}

// Result is the single row every plan returns.
type Result struct {
	Total     *int64
	PageTotal int64
	// Body is the response body: the body column, or body_bytes for a
	// binary media type.
	Body        []byte
	RespHeaders *string
	RespStatus  *string
	// Plan holds EXPLAIN output when the client asked for a plan.
	Plan []byte
	// Delivered: the response was sent by TxContext.Deliver.
	Delivered bool
	// LSN is the WAL position of a write's commit, read right after it
	// (0 otherwise): a replica that replayed it shows the write.
	LSN cache.LSN
}

// Executor runs plans, each in one transaction on a pooled connection.
type Executor struct {
	pool           *pgxpool.Pool
	acquireTimeout time.Duration
	// waiting and timeouts feed pgrst_db_pool_waiting and _timeouts_total.
	waiting, timeouts atomic.Int64
	// cached: statements are prepared and cached per connection
	// (db-prepared-statements); prepared tracks which.
	cached   bool
	prepared preparedSet
	// explicitBegin: the session default isolation is not READ COMMITTED,
	// so every transaction says BEGIN ISOLATION LEVEL.
	explicitBegin atomic.Bool
	// trackLSN: a write's result carries the WAL position of its commit
	// (read replicas are configured: read-your-writes needs it).
	trackLSN bool
	// Observe, when set and Observing says so, is told each step of
	// taking a pooled connection, in PostgREST's words (its debug log).
	Observe   func(msg string)
	Observing func() bool
}

func (x *Executor) observing() bool {
	return x.Observe != nil && (x.Observing == nil || x.Observing())
}

// connName names a pooled connection in those messages, after its backend.
func connName(c *pgxpool.Conn) string {
	return fmt.Sprintf("00000000-0000-0000-0000-%012x", c.Conn().PgConn().PID())
}

// New makes an executor: acquireTimeout bounds the wait for a pooled
// connection (then PGRST003), cached says statements are prepared per
// connection (db-prepared-statements). SetPool must be called before Run.
func New(acquireTimeout time.Duration, cached bool) *Executor {
	return &Executor{acquireTimeout: acquireTimeout, cached: cached}
}

// SetPool gives the executor its pool (created after the executor, since
// the pool's BeforeClose hook is the executor's Forget).
func (x *Executor) SetPool(pool *pgxpool.Pool) { x.pool = pool }

// TrackLSN makes every write's Result carry its commit's WAL position.
func (x *Executor) TrackLSN(on bool) { x.trackLSN = on }

// Forget drops what the executor knows of a connection about to close.
func (x *Executor) Forget(c *pgx.Conn) { x.prepared.forget(c) }

// Waiting is how many requests wait for a pooled connection now.
func (x *Executor) Waiting() int64 { return x.waiting.Load() }

// Timeouts counts requests that gave up waiting for a connection.
func (x *Executor) Timeouts() int64 { return x.timeouts.Load() }

// Run executes a plan in one transaction. The transaction start, the
// settings, the pre-request call and the statement are pipelined in one
// batch so a read costs one round trip plus the commit.
func (x *Executor) Run(ctx context.Context, p *planner.Plan, tc *TxContext) (*Result, error) {
	if p.BulkStage != "" {
		return x.runBulk(ctx, p, tc) // the body is read once: never retried
	}
	res, err := x.runOnce(ctx, p, tc)
	// A statement cached before a DDL change may now return another row type;
	// pgx drops the stale statement on this error, so one retry heals it.
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "0A000" && strings.Contains(pe.Message, "cached plan") {
		return x.runOnce(ctx, p, tc)
	}
	// A pooled connection broken by a database restart fails before anything
	// ran; retrying on a fresh connection hides the restart from the client.
	if err != nil && (pgconn.SafeToRetry(err) || connectionLost(err)) {
		return x.runOnce(ctx, p, tc)
	}
	return res, err
}

func (x *Executor) acquire(ctx context.Context) (*pgxpool.Conn, error) {
	actx := ctx
	// The timeout's timer costs more than the rest of taking a connection
	// (arming it wakes the netpoller: a syscall per request). While the
	// pool has an idle connection the wait is not the pool's, so it goes
	// without; a connection taken by another request in between makes
	// this one wait for the next release, as PostgREST's pool would.
	if x.acquireTimeout > 0 && x.pool.Stat().IdleConns() == 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(ctx, x.acquireTimeout)
		defer cancel()
	}
	if x.observing() {
		x.Observe("Trying to borrow a connection from pool")
	}
	x.waiting.Add(1)
	conn, err := x.pool.Acquire(actx)
	x.waiting.Add(-1)
	if err != nil {
		if actx.Err() != nil && ctx.Err() == nil {
			x.timeouts.Add(1)
			return nil, apierr.PoolTimeout()
		}
		return nil, errConnection(err)
	}
	if x.observing() {
		x.Observe("Connection " + connName(conn) + " is used")
		x.Observe("Borrowed a connection from the pool")
	}
	return conn, nil
}

func (x *Executor) runOnce(ctx context.Context, p *planner.Plan, tc *TxContext) (*Result, error) {
	conn, err := x.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer func() {
		if x.observing() {
			x.Observe("Connection " + connName(conn) + " is available due to session success")
		}
		conn.Release() // pgxpool destroys a connection left inside a transaction
	}()

	// Statements are parsed as the role in force when they are prepared, and
	// schema USAGE is checked at parse time, while pgx prepares every new
	// statement of a batch before running any: the role must be set before
	// the request's statements are prepared. So the settings go in a first
	// batch, unless this connection has prepared them all already (then
	// nothing is parsed and one batch does it all).
	stmts := Statements(p, tc)
	single := !x.cached || x.prepared.has(conn.Conn(), stmts)
	// Nothing to undo in a read-only transaction, nor in a write with no
	// check to make on its result: committing in the same batch saves a
	// round trip.
	committed := p.ReadOnly || (tc.Check == nil && !tc.Rollback)
	isolation := p.Settings["default_transaction_isolation"]
	if isolation == "" {
		isolation = tc.RoleIsolation // a function's own level wins over the role's
	}
	// A pipeline up to its Sync is one transaction (PostgreSQL's protocol
	// "Pipelining"): when every statement goes in one batch and commits at
	// its end, BEGIN and COMMIT are two statements the server runs for
	// nothing. READ ONLY is then a setting; an isolation level must come
	// before the first statement, so a function's own level keeps BEGIN.
	// A tracked write reads its commit's position after COMMIT, in the same
	// round trip: its COMMIT must be explicit.
	tracked := x.trackLSN && !p.ReadOnly
	implicit := x.cached && single && committed && !tracked && defaultIsolation(isolation) && !x.explicitBegin.Load()
	settingsSQL, settingsArgs := settingsStatement(tc, p.Settings, implicit, p.ReadOnly)
	tc.record(settingsSQL, stmts)
	b := &pgx.Batch{}
	if !implicit {
		b.Queue(beginSQL(isolation, p.ReadOnly))
	}
	b.Queue(settingsSQL, settingsArgs...)
	if !single {
		if err = conn.SendBatch(ctx, b).Close(); err != nil {
			rollback(conn)
			return nil, err
		}
		b = &pgx.Batch{}
	}
	if tc.PreRequest != "" {
		b.Queue(stmts[0]) // preRequestSQL
	}
	res := &Result{}
	var planned *int64
	queueCount(b, p, &planned)
	if p.Explain != "" {
		b.Queue("EXPLAIN ("+p.Explain+") "+p.SQL, p.Args...).Query(func(rows pgx.Rows) error {
			// One line per row (FORMAT TEXT has many, JSON one), each
			// ending in a newline as PostgREST sends them.
			var out []byte
			for rows.Next() {
				var line string
				if serr := rows.Scan(&line); serr != nil {
					return serr
				}
				out = append(append(out, line...), '\n')
			}
			res.Plan = out
			return rows.Err()
		})
	} else {
		var deliver func(*Result)
		if p.ReadOnly && tc.Deliver != nil {
			deliver = func(res *Result) {
				plannedTotal(p, res, planned)
				tc.Deliver(res)
			}
		}
		b.Queue(p.SQL, p.Args...).Query(func(rows pgx.Rows) error {
			return scanResult(rows, res, deliver)
		})
	}
	var lsn commitLSN
	if committed && !implicit {
		if tracked {
			lsn.queue(b)
		} else {
			b.Queue("COMMIT")
		}
	}
	err = conn.SendBatch(ctx, b).Close()
	lsn.set(res)
	if err != nil {
		rollback(conn)
		x.prepared.forget(conn.Conn())
		if res.Delivered {
			return res, nil // the client has its answer: nothing to retry or report
		}
		if implicit && isolationRefused(err) {
			// The session's default isolation is not READ COMMITTED (set on
			// the database or login role): nothing ran; BEGIN from now on.
			x.explicitBegin.Store(true)
			return x.runOnce(ctx, p, tc)
		}
		if single && x.cached && isPermission(err) {
			// A statement we thought prepared was not (pgx evicted it) and
			// was parsed before the role switch: plan it the careful way.
			return x.runOnce(ctx, p, tc)
		}
		return nil, err
	}
	if x.cached && !single {
		x.prepared.add(conn.Conn(), stmts)
	}
	plannedTotal(p, res, planned)
	if !committed {
		if err := x.finish(ctx, conn, p, tc, res); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// queueCount queues the EXPLAIN whose row estimate answers
// count=planned (and estimated); *planned is set once it has run.
func queueCount(b *pgx.Batch, p *planner.Plan, planned **int64) {
	if p.CountSQL == "" {
		return
	}
	b.Queue("EXPLAIN (FORMAT JSON) "+p.CountSQL, p.Args...).QueryRow(func(r pgx.Row) error {
		var raw []byte
		if err := r.Scan(&raw); err != nil {
			return err
		}
		n, err := planRows(raw)
		*planned = &n
		return err
	})
}

// finish ends a writing transaction: the request's checks, then COMMIT
// (or ROLLBACK for db-tx-end). A read-only one committed in its batch.
func (x *Executor) finish(ctx context.Context, conn *pgxpool.Conn, p *planner.Plan, tc *TxContext, res *Result) error {
	if p.ReadOnly && p.Stream {
		_, err := conn.Exec(ctx, "COMMIT")
		return err
	}
	if p.ReadOnly {
		return nil
	}
	if tc.Check != nil {
		if err := tc.Check(res); err != nil {
			rollback(conn)
			return err
		}
	}
	end := "COMMIT"
	if tc.Rollback {
		end = "ROLLBACK"
		// Deferred constraints are checked at COMMIT only; checked now, a
		// rolled-back request still reports their violation.
		if _, err := conn.Exec(ctx, "SET CONSTRAINTS ALL IMMEDIATE"); err != nil {
			rollback(conn)
			return err
		}
	}
	if end == "COMMIT" && x.trackLSN {
		var lsn commitLSN
		b := &pgx.Batch{}
		lsn.queue(b)
		if err := conn.SendBatch(ctx, b).Close(); err != nil {
			rollback(conn)
			return err
		}
		lsn.set(res)
		return nil
	}
	if _, err := conn.Exec(ctx, end); err != nil {
		rollback(conn)
		return err
	}
	return nil
}

// scanResult reads the single row of a plan. A textual body is read in
// place and handed to deliver when there is one; else it is copied once
// out of pgx's buffer, which the next message overwrites.
func scanResult(rows pgx.Rows, res *Result, deliver func(*Result)) error {
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	var body any = &res.Body
	direct := deliver != nil && asSent(rows.FieldDescriptions()[2].DataTypeOID)
	if direct {
		body = nil
	}
	var bin []byte
	if !scanRaw(rows, res, &bin, !direct) {
		if err := rows.Scan(&res.Total, &res.PageTotal, body, &bin, &res.RespHeaders, &res.RespStatus); err != nil {
			return err
		}
	}
	switch {
	case bin != nil:
		res.Body = bin
	case direct:
		res.Body = rows.RawValues()[2]
		deliver(res)
		res.Body, res.Delivered = nil, true
	}
	rows.Close()
	return rows.Err()
}

// scanRaw reads the result row's columns from their wire form when each
// is of a type and format it knows (the common case: counts as int8,
// body as text or json, headers and status as text), without pgx's
// per-column scan plans; false: nothing read, scan the usual way. The body
// is copied into res.Body only with copyBody (else the caller hands the
// row's own bytes on before reading further).
func scanRaw(rows pgx.Rows, res *Result, bin *[]byte, copyBody bool) bool {
	fds := rows.FieldDescriptions()
	vals := rows.RawValues()
	if len(fds) != 6 || len(vals) != 6 {
		return false
	}
	total, ok1 := rawInt8(fds[0], vals[0])
	page, ok2 := rawInt8(fds[1], vals[1])
	ok3 := vals[2] == nil || asSent(fds[2].DataTypeOID)
	hdrs, ok4 := rawText(fds[4], vals[4])
	status, ok5 := rawText(fds[5], vals[5])
	okBin := vals[3] == nil || (fds[3].DataTypeOID == pgtype.ByteaOID && fds[3].Format == pgtype.BinaryFormatCode)
	if !ok1 || !ok2 || page == nil || !ok3 || !ok4 || !ok5 || !okBin {
		return false
	}
	res.Total, res.PageTotal = total, *page
	if vals[2] != nil && copyBody {
		res.Body = bytes.Clone(vals[2])
	}
	if vals[3] != nil {
		*bin = bytes.Clone(vals[3])
	}
	res.RespHeaders, res.RespStatus = hdrs, status
	return true
}

// rawInt8 reads an int8 column, binary or text; nil for NULL.
func rawInt8(fd pgconn.FieldDescription, v []byte) (*int64, bool) {
	if v == nil {
		return nil, true
	}
	if fd.DataTypeOID != pgtype.Int8OID {
		return nil, false
	}
	var n int64
	if fd.Format == pgtype.BinaryFormatCode {
		if len(v) != 8 {
			return nil, false
		}
		n = int64(binary.BigEndian.Uint64(v))
	} else {
		var err error
		if n, err = strconv.ParseInt(string(v), 10, 64); err != nil {
			return nil, false
		}
	}
	return &n, true
}

// rawText reads a column whose wire form is its text in both formats
// (text, json); nil for NULL.
func rawText(fd pgconn.FieldDescription, v []byte) (*string, bool) {
	if v == nil {
		return nil, true
	}
	if !asSent(fd.DataTypeOID) {
		return nil, false
	}
	s := string(v)
	return &s, true
}

// plannedTotal puts the planner's estimate in place of the total when
// the count asked for is planned, or estimated and the exact count (taken
// up to one row past db-max-rows) passed db-max-rows and the planner
// guesses more, as PostgREST decides.
func plannedTotal(p *planner.Plan, res *Result, planned *int64) {
	switch {
	case p.Count == "planned":
		res.Total = planned
	case p.Count == "estimated" && planned != nil:
		over := res.Total == nil || p.EstimateAbove == nil || *res.Total > *p.EstimateAbove
		if over && (res.Total == nil || *planned > *res.Total) {
			res.Total = planned
		}
	}
}

// asSent: types whose wire form, text or binary, is their text.
func asSent(oid uint32) bool {
	return oid == pgtype.TextOID || oid == pgtype.JSONOID || oid == pgtype.XMLOID
}

func rollback(conn *pgxpool.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if conn.Conn().PgConn().TxStatus() != 'I' {
		if _, err := conn.Exec(ctx, "ROLLBACK"); err != nil {
			conn.Conn().Close(ctx) // never hand a connection mid-transaction back to the pool
		}
	}
}

// settingsStatement sets every transaction-local setting in one SELECT,
// written as PostgREST writes it (log-query shows it): each name a
// literal, each value a parameter. Names are fixed or come from
// configuration and the catalog, never from the request; the text depends
// only on them, so it is built once per set of names.
// Without BEGIN (implicit), the settings also say what BEGIN would have:
// READ COMMITTED, which fails with 25001 unless it is already the
// transaction's level (a check wherever it stands), and READ ONLY.
func settingsStatement(tc *TxContext, extra map[string]string, implicit, readOnly bool) (string, []any) {
	n := 7 + len(tc.RoleSettings) + len(tc.AppSettings) + len(extra)
	names := make([]string, 0, n+3)
	args := make([]any, 0, n+3)
	set := func(k, v string) {
		names = append(names, k)
		args = append(args, v)
	}
	set("search_path", tc.SearchPath)
	// Before the role: a setting the authenticator was granted SET on is
	// checked against the role in force.
	for _, k := range sortedKeys(tc.RoleSettings) {
		set(k, tc.RoleSettings[k])
	}
	set("role", tc.Role)
	set("request.jwt.claims", tc.ClaimsJSON)
	set("request.method", tc.Method)
	set("request.path", tc.Path)
	set("request.headers", tc.HeadersJSON)
	set("request.cookies", tc.CookiesJSON)
	if tc.Timezone != "" {
		set("timezone", tc.Timezone)
	}
	for _, k := range sortedKeys(tc.AppSettings) {
		set("app.settings."+k, tc.AppSettings[k])
	}
	for _, k := range sortedKeys(extra) {
		set(k, extra[k])
	}
	if implicit {
		set("transaction_isolation", "read committed")
		if readOnly {
			set("transaction_read_only", "on")
		}
	}
	return setConfigSQL(names), args
}

// setConfigTexts holds the settings statement of each set of names seen.
// The sets are few (the configuration's, a role's, a function's).
var setConfigTexts sync.Map

func setConfigSQL(names []string) string {
	key := strings.Join(names, "\x00")
	if t, ok := setConfigTexts.Load(key); ok {
		return t.(string)
	}
	var sb strings.Builder
	sb.WriteString("select ")
	for i, k := range names {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString("set_config('")
		sb.WriteString(strings.ReplaceAll(k, "'", "''"))
		sb.WriteString("', $")
		sb.WriteString(strconv.Itoa(i + 1))
		sb.WriteString(", true)")
	}
	t, _ := setConfigTexts.LoadOrStore(key, sb.String())
	return t.(string)
}

func sortedKeys(m map[string]string) []string {
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// planRows reads the row estimate from EXPLAIN (FORMAT JSON).
func planRows(raw []byte) (int64, error) {
	var out []struct {
		Plan struct {
			Rows float64 `json:"Plan Rows"`
		} `json:"Plan"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || len(out) == 0 {
		return 0, err
	}
	return int64(out[0].Plan.Rows), nil
}

// connectionLost reports errors that mean the server closed the session
// (restart, pg_terminate_backend): nothing of the transaction survived.
func connectionLost(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	return false
}

// beginSQL starts the transaction at its isolation level: a function's own
// default_transaction_isolation (references/transactions), else READ
// COMMITTED. The texts are constants: nothing is built per request.
func beginSQL(isolation string, readOnly bool) string {
	level := isolationLevel(isolation)
	if readOnly {
		return beginReadOnly[level]
	}
	return beginReadWrite[level]
}

func isolationLevel(setting string) int {
	switch strings.ToLower(strings.TrimSpace(setting)) {
	case "serializable":
		return 2
	case "repeatable read":
		return 1
	}
	return 0
}

func defaultIsolation(setting string) bool { return isolationLevel(setting) == 0 }

var (
	beginReadWrite = [3]string{"BEGIN ISOLATION LEVEL READ COMMITTED", "BEGIN ISOLATION LEVEL REPEATABLE READ", "BEGIN ISOLATION LEVEL SERIALIZABLE"}
	beginReadOnly  = [3]string{"BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY"}
)

// preRequestSQL calls the pre-request function, as PostgREST writes it.
func preRequestSQL(tc *TxContext) string { return "select " + tc.PreRequest + "()" }

// Statements lists the statements a request runs after its settings, in
// order: pre-request, planned count, the statement or its plan (what
// log-query shows).
func Statements(p *planner.Plan, tc *TxContext) []string {
	var out []string
	if tc.PreRequest != "" {
		out = append(out, preRequestSQL(tc))
	}
	if p.CountSQL != "" {
		out = append(out, "EXPLAIN (FORMAT JSON) "+p.CountSQL)
	}
	if p.Explain != "" {
		return append(out, "EXPLAIN ("+p.Explain+") "+p.SQL)
	}
	return append(out, p.SQL)
}

func isPermission(err error) bool { return isCode(err, "42501") }

// isolationRefused: the settings' set_config('transaction_isolation') met a
// transaction whose level differs (no context: a user's own SET TRANSACTION
// inside a function carries one, and is the request's own error).
func isolationRefused(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "25001" && pe.Where == "" &&
		strings.HasPrefix(pe.Message, "SET TRANSACTION ISOLATION LEVEL must be called before any query")
}

func isCode(err error, code string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == code
}

// preparedSet remembers which statements each pooled connection has
// prepared. It stays well under pgx's statement cache (512 per connection)
// by starting over past preparedMax, so a statement it lists is one pgx
// still holds.
type preparedSet struct {
	mu sync.Mutex
	m  map[*pgx.Conn]map[string]struct{}
}

const preparedMax = 200

func (s *preparedSet) has(c *pgx.Conn, stmts []string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	set := s.m[c]
	for _, q := range stmts {
		if _, ok := set[q]; !ok {
			return false
		}
	}
	return set != nil
}

func (s *preparedSet) add(c *pgx.Conn, stmts []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[*pgx.Conn]map[string]struct{}{}
	}
	set := s.m[c]
	if set == nil || len(set)+len(stmts) > preparedMax {
		set = map[string]struct{}{}
		s.m[c] = set
	}
	for _, q := range stmts {
		set[q] = struct{}{}
	}
}

// forget drops a connection's statements (closed, or an error left its
// cache in doubt).
func (s *preparedSet) forget(c *pgx.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, c)
}
