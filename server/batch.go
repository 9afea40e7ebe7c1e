package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/pgrest/pgrest/apierr"
	"github.com/pgrest/pgrest/cache"
	"github.com/pgrest/pgrest/executor"
	"github.com/pgrest/pgrest/planner"
	"github.com/pgrest/pgrest/request"
	"github.com/pgrest/pgrest/server/auth"
	"github.com/pgrest/pgrest/server/config"
)

// A batch (POST / with application/vnd.pgrest.batch+json, pgrest-only) runs
// several operations in one transaction. Each operation is read by the
// request parser and planned through the memo exactly as the same request
// alone; its response is what that request would answer, recorded. Any
// operation that would answer an error rolls everything back.

// batch is one batch request in flight.
type batch struct {
	a     *App
	ctx   context.Context
	cfg   *config.Config
	snap  *cache.Snapshot
	opts  planner.Options
	auth  bool
	ops   []request.BatchOp
	reqs  []*request.Request
	plans []*planner.Plan
	// results are the answers so far as JSON values, for references; only
	// kept when some operation refers to them.
	results []any
	keep    bool
	out     []opResponse
	// careful and unfold: the batch runs again, resetting the response
	// settings before every operation, or committing on its own.
	careful, unfold bool
	paths           map[string]string            // search paths by schema
	pathOnly        map[string]map[string]string // a step's settings that are its search path only
}

// encode writes the responses; bodies are JSON already, and are not
// decoded and encoded again.
func (b *batch) encode() []byte {
	var buf bytes.Buffer
	n := 2
	for _, o := range b.out {
		n += len(o.Body) + 64*len(o.Headers) + 32
	}
	buf.Grow(n)
	buf.WriteByte('[')
	for i, o := range b.out {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(`{"status":` + strconv.Itoa(o.Status) + `,"headers":{`)
		for i, k := range sortedHeaderNames(o.Headers) {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeJSONString(&buf, k)
			buf.WriteByte(':')
			writeJSONString(&buf, o.Headers[k])
		}
		buf.WriteByte('}')
		buf.WriteString(`,"body":`)
		buf.Write(o.Body)
		buf.WriteByte('}')
	}
	buf.WriteByte(']')
	return buf.Bytes()
}

func sortedHeaderNames(h map[string]string) []string {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// writeJSONString writes s as a JSON string: as it is when it is plain
// printable ASCII (header names and values nearly always are), else as
// encoding/json writes it.
func writeJSONString(buf *bytes.Buffer, s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			buf.Write(encodeJSON(s))
			return
		}
	}
	buf.WriteByte('"')
	buf.WriteString(s)
	buf.WriteByte('"')
}

// opResponse is one operation's answer in the batch's response.
type opResponse struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
}

// opFailure is an operation's error, or a batch-wide one when op < 0.
type opFailure struct {
	op  int
	err *apierr.Error
}

func (a *App) serveBatch(w http.ResponseWriter, r *http.Request, rt *derived, snap *cache.Snapshot, who *auth.Result) {
	cfg := rt.cfg
	body, err := readBody(r)
	if err != nil {
		a.fail(w, cfg, apierr.BodyReadError(err))
		return
	}
	prefs, aerr := request.ParsePrefer(r.Header.Values("Prefer"))
	if aerr != nil {
		a.fail(w, cfg, aerr)
		return
	}
	ops, bad, aerr := request.ParseBatch(body, cfg.BatchMaxOperations)
	b := &batch{a: a, ctx: r.Context(), cfg: cfg, snap: snap, opts: planOptions(cfg), auth: !who.Anonymous, ops: ops,
		reqs: make([]*request.Request, len(ops)), plans: make([]*planner.Plan, len(ops)), paths: map[string]string{}, pathOnly: map[string]map[string]string{}}
	if aerr != nil {
		a.fail(w, cfg, b.failure(&opFailure{bad, apierr.As(aerr)}))
		return
	}
	for k := range ops {
		b.keep = b.keep || ops[k].HasRefs()
	}
	env := batchEnvelope(r, cfg, prefs)
	tc, terr := a.txContext(rt, env, who.Role, who.ClaimsJSON, b.auth)
	if terr != nil {
		a.fail(w, cfg, terr)
		return
	}
	if f := b.run(tc); f != nil {
		a.fail(w, cfg, b.failure(f))
		return
	}
	if applied := preferenceApplied(env, &planner.Plan{}, cfg.DBTxEnd); applied != "" {
		w.Header().Set("Preference-Applied", applied)
	}
	out := b.encode()
	w.Header().Set("Content-Type", jsonType)
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(http.StatusOK)
	w.Write(out)
}

// readBody reads the body into one buffer of its announced length.
func readBody(r *http.Request) ([]byte, error) {
	if r.ContentLength <= 0 || r.ContentLength > 1<<26 {
		return io.ReadAll(r.Body)
	}
	var buf bytes.Buffer
	buf.Grow(int(r.ContentLength) + bytes.MinRead)
	_, err := buf.ReadFrom(r.Body)
	return buf.Bytes(), err
}

// batchEnvelope is the batch request itself as the transaction sees it:
// request.method, request.path, headers and cookies are the batch's.
func batchEnvelope(r *http.Request, cfg *config.Config, prefs request.Preferences) *request.Request {
	env := &request.Request{Method: r.Method, Path: r.URL.Path, Headers: map[string]string{}, Cookies: map[string]string{}, Prefs: prefs}
	for k, vs := range r.Header {
		env.Headers[strings.ToLower(k)] = strings.Join(vs, ", ")
	}
	for _, c := range r.Cookies() {
		env.Cookies[c.Name] = c.Value
	}
	env.Schema = "public"
	if len(cfg.DBSchemas) > 0 {
		env.Schema = cfg.DBSchemas[0]
	}
	return env
}

// run plans what it can before anything runs, then runs the operations in
// one transaction: consecutive operations without references go to the
// database in one round trip. A run that finds an operation saw response
// settings an earlier one left is done again, resetting them before each;
// one whose folded COMMIT a guard stopped is done again committing apart.
func (b *batch) run(tc *executor.TxContext) *opFailure {
	for k := range b.ops {
		if !b.ops[k].HasRefs() {
			if f := b.prepare(k, &b.ops[k]); f != nil {
				return f
			}
		}
	}
	var f *opFailure
	for again := true; again; {
		if f, again = b.runTx(tc); again {
			b.out, b.results = b.out[:0], b.results[:0]
		}
	}
	return f
}

// runTx runs the operations in one transaction; again: the transaction
// was abandoned and must be run again (carefully, or unfolded).
func (b *batch) runTx(tc *executor.TxContext) (f *opFailure, again bool) {
	tx, err := b.a.exec.Begin(b.ctx, tc, b.isolation())
	if err != nil {
		return &opFailure{-1, executor.ToAPIError(err, b.auth)}, false
	}
	tx.Careful = b.careful
	for k := 0; k < len(b.ops); {
		j := k + 1
		for j < len(b.ops) && !b.ops[j].HasRefs() {
			j++
		}
		if f, again = b.runGroup(tx, k, j, tc.Rollback); f != nil || again {
			tx.Abort()
			return f, again
		}
		k = j
	}
	if err := tx.Finish(b.ctx, tc.Rollback); err != nil {
		return &opFailure{-1, executor.ToAPIError(err, b.auth)}, false
	}
	return nil, false
}

// runGroup runs operations k..j-1; only k may have references, which the
// results before it now resolve. The last group of a read-only batch
// commits in the same round trip: there is nothing to undo.
func (b *batch) runGroup(tx *executor.Tx, k, j int, rollback bool) (*opFailure, bool) {
	if b.ops[k].HasRefs() {
		op, aerr := b.ops[k].Resolve(k, b.results)
		if aerr != nil {
			return &opFailure{k, apierr.As(aerr)}, false
		}
		if f := b.prepare(k, op); f != nil {
			return f, false
		}
	}
	steps := make([]executor.Step, 0, j-k)
	for i := k; i < j; i++ {
		p := b.plans[i]
		opaque := b.reqs[i].Action != request.ActRead || p.Explain != ""
		steps = append(steps, executor.Step{Plan: p, Settings: b.stepSettings(i), Opaque: opaque})
		if b.cfg.LogQuery {
			b.a.log.WithLevel(LogLevel(b.cfg.LogLevel)).Str("query", p.SQL).Msg("main query")
		}
	}
	results, failed, err := tx.Run(b.ctx, steps, b.end(j, rollback))
	switch {
	case errors.Is(err, executor.ErrRedo) && !b.careful:
		b.careful = true
		return nil, true
	case errors.Is(err, executor.ErrUnfold) && !b.unfold:
		b.unfold = true
		return nil, true
	}
	for i, res := range results {
		if f := b.record(k+i, res); f != nil {
			return f, false
		}
	}
	if err != nil {
		op := -1 // the transaction's start
		if failed >= 0 {
			op = k + failed
		}
		return &opFailure{op, executor.ToAPIError(err, b.auth)}, false
	}
	return nil, false
}

// end says how the group ending at j ends the transaction: the last one
// commits in its own round trip when the batch only reads, or when no
// answer can turn out an error once the rows are back (checks, singular
// or ranged reads, EXPLAIN); a guard catches the response settings.
func (b *batch) end(j int, rollback bool) executor.End {
	if j < len(b.ops) || rollback {
		return executor.Open
	}
	readOnly := true
	for _, p := range b.plans {
		readOnly = readOnly && p.ReadOnly
	}
	if readOnly {
		return executor.Commit
	}
	for i, p := range b.plans {
		if b.unfold || writeCheck(b.reqs[i], p) != nil || p.Singular || p.Offset > 0 || p.Explain != "" {
			return executor.Open
		}
	}
	return executor.CommitGuarded
}

// prepare reads an operation through the request parser and plans it.
func (b *batch) prepare(k int, op *request.BatchOp) *opFailure {
	hr, aerr := op.HTTPRequest(k)
	if aerr != nil {
		return &opFailure{k, apierr.As(aerr)}
	}
	req, perr := request.Parse(hr, request.Options{Schemas: b.cfg.DBSchemas})
	if perr != nil {
		return &opFailure{k, apierr.As(perr)}
	}
	if req.Action == request.ActInfo || req.Action == request.ActSchemaRead {
		return &opFailure{k, apierr.BatchOperationInvalid(k, req.Method+" "+op.Path)}
	}
	plan, err := b.a.planner.Plan(req, b.snap, b.opts)
	if err != nil {
		return &opFailure{k, executor.ToAPIError(err, b.auth)}
	}
	b.reqs[k], b.plans[k] = req, plan
	return nil
}

// stepSettings: the operation's own schema on the search path and its
// function's hoisted settings.
func (b *batch) stepSettings(k int) map[string]string {
	schema := b.reqs[k].Schema
	path, ok := b.paths[schema]
	if !ok {
		path = searchPath(schema, b.cfg.DBExtraSearchPath)
		b.paths[schema] = path
	}
	if len(b.plans[k].Settings) == 0 {
		// Shared by the steps of that schema: the executor only reads it.
		if m, ok := b.pathOnly[schema]; ok {
			return m
		}
		m := map[string]string{"search_path": path}
		b.pathOnly[schema] = m
		return m
	}
	m := map[string]string{"search_path": path}
	for n, v := range b.plans[k].Settings {
		m[n] = v
	}
	return m
}

// isolation is the strongest level the operations planned so far ask for.
func (b *batch) isolation() string {
	best, rank := "", 0
	levels := map[string]int{"repeatable read": 1, "serializable": 2}
	for _, p := range b.plans {
		if p == nil {
			continue
		}
		lv := strings.ToLower(strings.TrimSpace(p.Settings["default_transaction_isolation"]))
		if levels[lv] > rank {
			best, rank = lv, levels[lv]
		}
	}
	return best
}

// record writes operation k's response as the request alone would get it;
// an error answer fails the batch.
func (b *batch) record(k int, res *executor.Result) *opFailure {
	req, plan := b.reqs[k], b.plans[k]
	if check := writeCheck(req, plan); check != nil {
		if err := check(res); err != nil {
			return &opFailure{k, executor.ToAPIError(err, b.auth)}
		}
	}
	rec := &recorder{h: http.Header{}}
	if req.SchemaNegotiated || len(b.cfg.DBSchemas) > 1 {
		rec.h.Set("Content-Profile", req.Schema)
	}
	applied := preferenceApplied(req, plan, b.cfg.DBTxEnd)
	if req.Action == request.ActRead || req.Action == request.ActInvoke {
		writeRead(rec, req, plan, res, applied)
	} else {
		writeMutation(rec, req, plan, res, applied)
	}
	if rec.status >= 400 {
		return &opFailure{k, rec.asError()}
	}
	resp := rec.response()
	b.out = append(b.out, resp)
	if b.keep {
		b.results = append(b.results, resp.value())
	}
	return nil
}

// failure is the error the batch answers: the operation's own error body
// with "operation": k added.
func (b *batch) failure(f *opFailure) *apierr.Error {
	e := *f.err
	if b.cfg.ClientErrorVerbosity == "minimal" && e.Body == nil {
		e.Minimal = true
	}
	if f.op < 0 {
		return &e
	}
	body := bytes.TrimSpace(e.JSON())
	if n := len(body); n >= 2 && body[0] == '{' && body[n-1] == '}' {
		sep := ","
		if bytes.Equal(bytes.TrimSpace(body[1:n-1]), nil) {
			sep = ""
		}
		body = append(append(append([]byte{}, body[:n-1]...), sep+`"operation":`+strconv.Itoa(f.op)...), '}')
	}
	e.Body = body
	return &e
}

// recorder keeps a response written by writeRead or writeMutation.
type recorder struct {
	h      http.Header
	status int
	body   bytes.Buffer
	first  []byte
}

func (r *recorder) Header() http.Header { return r.h }

func (r *recorder) WriteHeader(s int) {
	if r.status == 0 {
		r.status = s
	}
}

// Write keeps a body written at once without copying it: the writers of
// responses hand it bodies they do not touch again.
func (r *recorder) Write(p []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	if r.body.Len() == 0 && r.first == nil {
		r.first = p
		return len(p), nil
	}
	if r.first != nil {
		r.body.Write(r.first)
		r.first = nil
	}
	return r.body.Write(p)
}

// bytes is the body written.
func (r *recorder) bytes() []byte {
	if r.first != nil {
		return r.first
	}
	return r.body.Bytes()
}

// asError turns a recorded error answer back into the error it renders.
func (r *recorder) asError() *apierr.Error {
	e := &apierr.Error{Status: r.status, Body: r.bytes(), Headers: map[string]string{}}
	e.Code = strings.TrimPrefix(r.h.Get("Proxy-Status"), "PostgREST; error=")
	for k := range r.h {
		switch k {
		case "Content-Type", "Content-Length", "Proxy-Status":
		default:
			e.Headers[k] = r.h.Get(k)
		}
	}
	return e
}

// response is the recorded answer: the body as a JSON value when it is
// JSON, else as a string; null when there is none.
func (r *recorder) response() opResponse {
	resp := opResponse{Status: r.status, Headers: map[string]string{}}
	for k, vs := range r.h {
		if len(vs) == 1 {
			resp.Headers[k] = vs[0]
		} else {
			resp.Headers[k] = strings.Join(vs, ", ")
		}
	}
	body := r.bytes()
	switch {
	case len(body) == 0:
		resp.Body = json.RawMessage("null")
	case isJSONType(r.h.Get("Content-Type")) && json.Valid(body):
		resp.Body = body // the recorder is not used again
	default:
		resp.Body = encodeJSON(string(body))
	}
	return resp
}

func isJSONType(ct string) bool {
	mt, _, _ := strings.Cut(strings.ToLower(ct), ";")
	mt = strings.TrimSpace(mt)
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// value is the response as a JSON value, for references into it.
func (o opResponse) value() any {
	var v any
	dec := json.NewDecoder(bytes.NewReader(encodeJSON(o)))
	dec.UseNumber()
	_ = dec.Decode(&v) // our own encoding: always valid
	return v
}

func encodeJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}
