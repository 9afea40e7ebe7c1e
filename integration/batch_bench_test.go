package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pgrest/pgrest/planner"
	"github.com/pgrest/pgrest/request"
	"github.com/pgrest/pgrest/server/config"
)

// batchBenchOps are ten independent operations: inserts, an update, reads
// with an embed and a filter, and an RPC call. Writes go to order 2 and
// reads look at order 1; what the writes added is deleted between runs
// (untimed), so the work per run stays the same.
type benchOp struct {
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    any               `json:"body,omitempty"`
}

var batchBenchOps = []benchOp{
	{"POST", "/orders", map[string]string{"Prefer": "return=representation"}, map[string]any{"customer": "a"}},
	{"POST", "/orders", nil, map[string]any{"customer": "b"}},
	{"POST", "/lines", nil, map[string]any{"order_id": 2, "sku": "x", "qty": 1}},
	{"POST", "/lines", nil, []any{map[string]any{"order_id": 2, "sku": "y", "qty": 2}, map[string]any{"order_id": 2, "sku": "z", "qty": 3}}},
	{"PATCH", "/orders?id=eq.1", nil, map[string]any{"status": "placed"}},
	{"GET", "/orders?select=id,customer,lines(sku,qty)&id=eq.1", nil, nil},
	{"GET", "/lines?select=sku&order_id=eq.1&order=id.desc&limit=5", nil, nil},
	{"GET", "/rpc/order_qty?oid=1", nil, nil},
	{"GET", "/orders?select=id&status=eq.placed&limit=1", map[string]string{"Prefer": "count=exact"}, nil},
	{"DELETE", "/lines?sku=eq.none", nil, nil},
}

// batchBenchReads are ten reads: embeds, filters, counts, an RPC call;
// each looks at a few rows, whatever the mixed run wrote.
var batchBenchReads = []benchOp{
	{"GET", "/orders?select=id,customer,lines(sku,qty)&id=eq.1", nil, nil},
	{"GET", "/lines?select=sku&order_id=eq.1&order=id.desc&limit=5", nil, nil},
	{"GET", "/rpc/order_qty?oid=1", nil, nil},
	{"GET", "/orders?select=id&id=lte.2", map[string]string{"Prefer": "count=exact"}, nil},
	{"GET", "/orders?id=eq.1", map[string]string{"Accept": "application/vnd.pgrst.object+json"}, nil},
	{"GET", "/lines?select=qty.sum()&order_id=eq.1", nil, nil},
	{"GET", "/lines?sku=in.(a,b)&order_id=eq.1&order=sku", nil, nil},
	{"HEAD", "/orders?customer=like.f*&id=lt.10", nil, nil},
	{"GET", "/orders?select=customer,lines!inner(sku)&lines.qty=gt.1&id=eq.1", nil, nil},
	{"GET", "/lines?order_id=eq.1", map[string]string{"Range": "0-1"}, nil},
}

// BenchmarkBatch10 sends ten operations as one batch and one by one over
// the same keep-alive connection, alternating within one run, and reports
// both times and the ratio: a mix of writes and reads, and reads only.
func BenchmarkBatch10(b *testing.B) {
	db := NewDB(b, batchFixture)
	SQL(b, db, `INSERT INTO api.orders (customer, owner) VALUES ('first', 'test_user'), ('sink', 'test_user');
		INSERT INTO api.lines (order_id, sku, qty) VALUES (1, 'a', 1), (1, 'b', 2), (1, 'c', 3);
		CREATE INDEX ON api.lines (order_id)`)
	p := startBatch(b, db, func(c *config.Config) { c.DBAggregatesEnabled = true })
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg.URI("postgres", db))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	// Without it the tables grow by thousands of rows over a run, and every
	// statement, batched or not, scans more: that measures the tables.
	reset := func() {
		if _, err := conn.Exec(ctx, `DELETE FROM api.lines WHERE order_id = 2; DELETE FROM api.orders WHERE id > 2`); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("mixed", func(b *testing.B) { benchBatch(b, p, db, batchBenchOps, reset) })
	b.Run("reads", func(b *testing.B) { benchBatch(b, p, db, batchBenchReads, reset) })
}

func benchBatch(b *testing.B, p *Pgrest, db string, ops []benchOp, reset func()) {
	user := bearer(b, "test_user")
	pgBatch, pgSingles := pgReference(b, p, db, ops)
	raw, err := json.Marshal(ops)
	if err != nil {
		b.Fatal(err)
	}
	body := string(raw)
	bodies := make([]string, len(ops))
	for i, op := range ops {
		if op.Body != nil {
			bb, _ := json.Marshal(op.Body)
			bodies[i] = string(bb)
		}
	}
	singles := func() {
		for i, op := range ops {
			hs := []string{user}
			for k, v := range op.Headers {
				hs = append(hs, k+": "+v)
			}
			if bodies[i] != "" {
				hs = append(hs, "Content-Type: application/json")
			}
			if r := p.Do(op.Method, op.Path, bodies[i], hs...); r.Status >= 300 {
				b.Fatalf("%s %s: %d %s", op.Method, op.Path, r.Status, r.Body)
			}
		}
	}
	batch := func() {
		if r := p.Do("POST", "/", body, batchType, user); r.Status != 200 {
			b.Fatalf("batch: %d %s", r.Status, r.Body)
		}
	}
	for i := 0; i < 20; i++ { // warm the plan memo, prepared statements and the pool
		singles()
		batch()
		reset()
		pgSingles()
		pgBatch()
		reset()
	}
	b.ResetTimer()
	var inBatch, oneByOne, pgIn, pgOne time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		batch()
		t1 := time.Now()
		singles()
		inBatch += t1.Sub(t0)
		oneByOne += time.Since(t1)
		b.StopTimer()
		reset()
		t0 = time.Now()
		pgBatch()
		t1 = time.Now()
		pgSingles()
		pgIn += t1.Sub(t0)
		pgOne += time.Since(t1)
		reset()
		b.StartTimer()
	}
	b.ReportMetric(float64(inBatch.Microseconds())/float64(b.N), "batch-us/op")
	b.ReportMetric(float64(oneByOne.Microseconds())/float64(b.N), "singles-us/op")
	b.ReportMetric(float64(oneByOne)/float64(inBatch), "speedup")
	b.ReportMetric(float64(pgIn.Microseconds())/float64(b.N), "pg-batch-us/op")
	b.ReportMetric(float64(pgOne.Microseconds())/float64(b.N), "pg-singles-us/op")
	b.ReportMetric(float64(pgOne)/float64(pgIn), "pg-speedup")
}

// pgReference is PostgreSQL alone doing what pgrest sends for the same
// operations, in the same run: each operation's planned statement after
// the request settings, the ten in one pipeline (one implicit
// transaction) or each in its own, as pgrest's single requests go. Its
// ratio is what batching gains in the database itself, with no HTTP.
func pgReference(b *testing.B, p *Pgrest, db string, ops []benchOp) (batch, singles func()) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg.URI("authenticator", db))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close(ctx) })
	memo, snap := planner.New(64), p.App.Holder().Load()
	claims := `{"role":"test_user"}`
	settings := `select set_config('search_path', $1, true), set_config('role', $2, true), set_config('request.jwt.claims', $3, true),
		set_config('request.method', $4, true), set_config('request.path', $5, true), set_config('request.headers', $6, true), set_config('request.cookies', $7, true)`
	type stmt struct {
		sql  string
		args []any
		set  []any
	}
	stmts := make([]stmt, len(ops))
	for i, op := range ops {
		var body io.Reader
		if op.Body != nil {
			raw, _ := json.Marshal(op.Body)
			body = bytes.NewReader(raw)
		}
		r := httptest.NewRequest(op.Method, op.Path, body)
		for k, v := range op.Headers {
			r.Header.Set(k, v)
		}
		if op.Body != nil {
			r.Header.Set("Content-Type", "application/json")
		}
		req, perr := request.Parse(r, request.Options{Schemas: []string{"api"}})
		if perr != nil {
			b.Fatal(perr)
		}
		plan, perr := memo.Plan(req, snap, planner.Options{AggregatesEnabled: true})
		if perr != nil {
			b.Fatal(perr)
		}
		stmts[i] = stmt{plan.SQL, plan.Args, []any{"api", "test_user", claims, op.Method, req.Path, `{}`, `{}`}}
	}
	// Prepared once as the request's role: the login role may not parse
	// them (it has no USAGE on the schema), as with pgrest.
	tx, err := conn.Begin(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := tx.Exec(ctx, settings, stmts[0].set...); err != nil {
		b.Fatal(err)
	}
	for _, s := range stmts {
		if _, err := conn.Prepare(ctx, s.sql, s.sql); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Rollback(ctx); err != nil {
		b.Fatal(err)
	}
	send := func(bt *pgx.Batch) {
		if err := conn.SendBatch(ctx, bt).Close(); err != nil {
			b.Fatal(err)
		}
	}
	batch = func() {
		bt := &pgx.Batch{}
		bt.Queue(settings, stmts[0].set...)
		for _, s := range stmts {
			bt.Queue(s.sql, s.args...)
		}
		send(bt)
	}
	singles = func() {
		for _, s := range stmts {
			bt := &pgx.Batch{}
			bt.Queue(settings, s.set...)
			bt.Queue(s.sql, s.args...)
			send(bt)
		}
	}
	return batch, singles
}
