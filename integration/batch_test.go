package integration

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/pgrest/pgrest/server/config"
)

// Batches (pgrest-only): several operations, one transaction.

// In PostgREST's recommended role setup: the authenticator has no USAGE on
// the exposed schema, so every statement must be prepared after the role
// switch.
const batchFixture = `
CREATE SCHEMA api;
SET search_path = api;
CREATE TABLE orders (
  id serial PRIMARY KEY,
  customer text NOT NULL,
  status text NOT NULL DEFAULT 'new',
  owner text NOT NULL DEFAULT current_user
);
CREATE TABLE lines (
  id serial PRIMARY KEY,
  order_id int NOT NULL REFERENCES orders(id),
  sku text NOT NULL,
  qty int NOT NULL CHECK (qty > 0)
);
ALTER TABLE orders ENABLE ROW LEVEL SECURITY;
CREATE POLICY mine ON orders USING (owner = current_user) WITH CHECK (owner = current_user);
CREATE FUNCTION order_qty(oid int) RETURNS bigint LANGUAGE sql STABLE
  AS $$ SELECT coalesce(sum(qty), 0) FROM lines WHERE order_id = oid $$;
CREATE FUNCTION calls() RETURNS text LANGUAGE sql STABLE
  AS $$ SELECT current_setting('app.calls', true) $$;
CREATE FUNCTION count_calls() RETURNS void LANGUAGE sql
  AS $$ SELECT set_config('app.calls', (coalesce(nullif(current_setting('app.calls', true), ''), '0')::int + 1)::text, true);
        SELECT set_config('response.headers', '[{"X-Pre": "yes"}]', true) $$;
CREATE FUNCTION accepted() RETURNS text LANGUAGE sql
  AS $$ SELECT set_config('response.status', '202', true); SELECT 'queued' $$;
GRANT USAGE ON SCHEMA api TO web_anon, test_user, other_user;
GRANT SELECT, INSERT, UPDATE, DELETE ON orders, lines TO test_user;
GRANT SELECT, INSERT, UPDATE ON orders TO other_user;
GRANT SELECT ON orders TO web_anon;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA api TO test_user, other_user;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA api TO web_anon, test_user, other_user;
`

const batchType = "Content-Type: application/vnd.pgrest.batch+json"

// scalar reads one value as the superuser.
func scalar(t *testing.T, db, sql string) string {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, pg.URI("postgres", db))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var s string
	if _, err := c.Exec(ctx, "SET search_path = api"); err != nil {
		t.Fatal(err)
	}
	if err := c.QueryRow(ctx, "SELECT ("+sql+")::text").Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

// startBatch serves the batch fixture's api schema.
func startBatch(t testing.TB, db string, mod func(*config.Config)) *Pgrest {
	t.Helper()
	return StartPgrest(t, db, func(c *config.Config) {
		c.DBSchemas = []string{"api"}
		if mod != nil {
			mod(c)
		}
	})
}

type batchResult struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
}

func (p *Pgrest) batch(t *testing.T, body string, headers ...string) *Resp {
	t.Helper()
	return p.Do("POST", "/", body, append([]string{batchType}, headers...)...)
}

func batchResults(t *testing.T, r *Resp) []batchResult {
	t.Helper()
	r.Expect(t, 200)
	var out []batchResult
	if err := json.Unmarshal(r.Body, &out); err != nil {
		t.Fatalf("batch body: %v\n%s", err, r.Body)
	}
	return out
}

func jsonEq(t *testing.T, got json.RawMessage, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got %s: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want %s: %v", want, err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if string(gb) != string(wb) {
		t.Fatalf("got %s, want %s", gb, wb)
	}
}

// batchError checks a failed batch: the operation's status, code and index.
func batchError(t *testing.T, r *Resp, status int, code string, op int) {
	t.Helper()
	m := r.ExpectError(t, status, code)
	if op < 0 {
		if _, ok := m["operation"]; ok {
			t.Fatalf("batch-wide error names an operation: %s", r.Body)
		}
		return
	}
	if n, ok := m["operation"].(float64); !ok || int(n) != op {
		t.Fatalf("operation %v, want %d: %s", m["operation"], op, r.Body)
	}
}

const mixedBatch = `[
 {"method": "POST", "path": "/orders", "headers": {"Prefer": "return=representation"}, "body": {"customer": "ada"}},
 {"method": "POST", "path": "/lines?columns=order_id,sku,qty", "headers": {"Prefer": "return=representation"},
  "body": [{"order_id": {"$ref": "/0/body/0/id"}, "sku": "a", "qty": 2}, {"order_id": {"$ref": "/0/body/0/id"}, "sku": "b", "qty": 3}]},
 {"method": "PATCH", "path": "/orders?id=eq.${/0/body/0/id}", "body": {"status": "placed"}},
 {"method": "POST", "path": "/rpc/order_qty", "body": {"oid": {"$ref": "/0/body/0/id"}}},
 {"method": "GET", "path": "/orders?select=customer,status,lines(sku,qty)&lines.order=sku&id=eq.$%7B/0/body/0/id%7D",
  "headers": {"Accept": "application/vnd.pgrst.object+json"}}
]`

// A mixed batch commits as one, and each operation answers as alone.
func TestBatchMixedCommits(t *testing.T) {
	db := NewDB(t, batchFixture)
	p := startBatch(t, db, nil)
	user := bearer(t, "test_user")
	res := batchResults(t, p.batch(t, mixedBatch, user))
	if len(res) != 5 {
		t.Fatalf("%d results", len(res))
	}
	for i, want := range []int{201, 201, 204, 200, 200} {
		if res[i].Status != want {
			t.Fatalf("operation %d: status %d, want %d (%s)", i, res[i].Status, want, res[i].Body)
		}
	}
	if res[2].Headers["Content-Range"] != "0-0/*" || string(res[2].Body) != "null" {
		t.Fatalf("PATCH answer %+v", res[2])
	}
	jsonEq(t, res[3].Body, `5`)
	jsonEq(t, res[4].Body, `{"customer":"ada","status":"placed","lines":[{"sku":"a","qty":2},{"sku":"b","qty":3}]}`)
	if got := scalar(t, db, "SELECT count(*) FROM lines l JOIN orders o ON o.id = l.order_id WHERE o.status = 'placed'"); got != "2" {
		t.Fatalf("%s lines committed", got)
	}

	// The same read alone answers the same status, headers and body.
	alone := p.Get("/orders?select=customer,status,lines(sku,qty)&lines.order=sku&id=eq.1", user, "Accept: application/vnd.pgrst.object+json").Expect(t, 200)
	for _, h := range []string{"Content-Type", "Content-Location"} {
		if alone.Header.Get(h) != res[4].Headers[h] {
			t.Fatalf("%s alone %q, in a batch %q", h, alone.Header.Get(h), res[4].Headers[h])
		}
	}
	jsonEq(t, json.RawMessage(alone.Body), string(res[4].Body))

	// Again, now that its statements are prepared on the pooled connections.
	for i := 0; i < 3; i++ {
		batchResults(t, p.batch(t, mixedBatch, user))
	}
	if got := scalar(t, db, "SELECT count(*) FROM lines"); got != "8" {
		t.Fatalf("%s lines after four batches", got)
	}
}

// A failure at operation k rolls back operations 0..k-1.
func TestBatchFailureRollsBack(t *testing.T) {
	db := NewDB(t, batchFixture)
	p := startBatch(t, db, nil)
	user := bearer(t, "test_user")
	insert := `{"method": "POST", "path": "/orders", "headers": {"Prefer": "return=representation"}, "body": {"customer": "bob"}}`
	cases := []struct {
		name, op   string
		status     int
		code       string
		extraHeads []string
	}{
		{"check violation", `{"method": "POST", "path": "/lines", "body": {"order_id": {"$ref": "/0/body/0/id"}, "sku": "x", "qty": 0}}`, 400, "23514", nil},
		{"singular write", `{"method": "PATCH", "path": "/orders?customer=eq.nobody", "headers": {"Accept": "application/vnd.pgrst.object+json"}, "body": {"status": "x"}}`, 406, "PGRST116", nil},
		{"max-affected", `{"method": "DELETE", "path": "/orders", "headers": {"Prefer": "handling=strict, max-affected=0"}}`, 400, "PGRST124", nil},
		{"singular read", `{"method": "GET", "path": "/orders?id=lt.0", "headers": {"Accept": "application/vnd.pgrst.object+json"}}`, 406, "PGRST116", nil},
		{"unknown table", `{"method": "GET", "path": "/nothing"}`, 404, "PGRST205", nil},
		{"bad filter", `{"method": "GET", "path": "/orders?id=zz.1"}`, 400, "PGRST100", nil},
		{"missing ref", `{"method": "GET", "path": "/orders?id=eq.${/0/body/5/id}"}`, 400, "PGRST604", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := p.batch(t, `[`+insert+`, `+insert+`, `+c.op+`]`, user)
			batchError(t, r, c.status, c.code, 2)
			if n := scalar(t, db, "SELECT count(*) FROM orders"); n != "0" {
				t.Fatalf("%s orders left after a failed batch", n)
			}
		})
	}
	// The sequence moved, the rows did not: the next batch commits.
	batchResults(t, p.batch(t, `[`+insert+`]`, user))
	if n := scalar(t, db, "SELECT count(*) FROM orders"); n != "1" {
		t.Fatalf("%s orders", n)
	}
}

// Grants and RLS apply to every operation, as the batch's role.
func TestBatchRolesAndRLS(t *testing.T) {
	db := NewDB(t, batchFixture)
	SQL(t, db, `INSERT INTO api.orders (customer, owner) VALUES ('theirs', 'other_user'), ('mine', 'test_user')`)
	p := startBatch(t, db, nil)

	// Anonymous: reads pass (RLS shows nothing), the insert is refused with 401.
	r := p.batch(t, `[{"method": "GET", "path": "/orders"}, {"method": "POST", "path": "/orders", "body": {"customer": "x"}}]`)
	batchError(t, r, 401, "42501", 1)

	// test_user sees and updates only its own rows.
	res := batchResults(t, p.batch(t, `[
	  {"method": "PATCH", "path": "/orders", "headers": {"Prefer": "return=representation"}, "body": {"status": "seen"}},
	  {"method": "GET", "path": "/orders?select=customer", "headers": {"Prefer": "count=exact"}}]`, bearer(t, "test_user")))
	jsonEq(t, res[0].Body, `[{"id":2,"customer":"mine","status":"seen","owner":"test_user"}]`)
	jsonEq(t, res[1].Body, `[{"customer":"mine"}]`)
	if res[1].Headers["Content-Range"] != "0-0/1" {
		t.Fatalf("Content-Range %q", res[1].Headers["Content-Range"])
	}
	if s := scalar(t, db, "SELECT status FROM orders WHERE customer = 'theirs'"); s != "new" {
		t.Fatalf("RLS let a batch update another user's row: %s", s)
	}

	// other_user has no grant on lines: its insert there fails with 403, and
	// its order insert before it is rolled back.
	r = p.batch(t, `[
	  {"method": "POST", "path": "/orders", "headers": {"Prefer": "return=representation"}, "body": {"customer": "o"}},
	  {"method": "POST", "path": "/lines", "body": {"order_id": {"$ref": "/0/body/0/id"}, "sku": "s", "qty": 1}}]`, bearer(t, "other_user"))
	batchError(t, r, 403, "42501", 1)
	if n := scalar(t, db, "SELECT count(*) FROM orders"); n != "2" {
		t.Fatalf("%s orders", n)
	}
}

// Malformed, forward and self references are refused before anything runs.
func TestBatchReferenceErrors(t *testing.T) {
	db := NewDB(t, batchFixture)
	p := startBatch(t, db, nil)
	user := bearer(t, "test_user")
	insert := `{"method": "POST", "path": "/orders", "body": {"customer": "c"}}`
	cases := []struct {
		name, op string
		code     string
	}{
		{"forward in body", `{"method": "POST", "path": "/lines", "body": {"order_id": {"$ref": "/2/body/0/id"}}}`, "PGRST603"},
		{"self in path", `{"method": "GET", "path": "/orders?id=eq.${/1/status}"}`, "PGRST603"},
		{"no leading slash", `{"method": "POST", "path": "/lines", "body": {"order_id": {"$ref": "0/body"}}}`, "PGRST602"},
		{"not an index", `{"method": "POST", "path": "/lines", "body": {"order_id": {"$ref": "/first/body"}}}`, "PGRST602"},
		{"bad escape", `{"method": "POST", "path": "/lines", "body": {"order_id": {"$ref": "/0/~2"}}}`, "PGRST602"},
		{"not a string", `{"method": "POST", "path": "/lines", "body": {"order_id": {"$ref": 0}}}`, "PGRST602"},
		{"unclosed placeholder", `{"method": "GET", "path": "/orders?id=eq.${/0/body"}`, "PGRST602"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			batchError(t, p.batch(t, `[`+insert+`, `+c.op+`, `+insert+`]`, user), 400, c.code, 1)
		})
	}
	if n := scalar(t, db, "SELECT count(*) FROM orders"); n != "0" {
		t.Fatalf("%s orders", n)
	}
	// A value from a result is one literal to the URL grammar.
	res := batchResults(t, p.batch(t, `[
	  {"method": "POST", "path": "/orders", "headers": {"Prefer": "return=representation"}, "body": {"customer": "a&b=c,d"}},
	  {"method": "GET", "path": "/orders?select=id&customer=eq.${/0/body/0/customer}"}]`, user))
	jsonEq(t, res[1].Body, `[{"id":1}]`)
}

// Prefer: tx=rollback runs everything and keeps nothing; pre-request and
// the request settings run once for the whole batch.
func TestBatchRollbackAndPreRequest(t *testing.T) {
	db := NewDB(t, batchFixture)
	p := startBatch(t, db, func(c *config.Config) {
		c.DBTxEnd = "commit-allow-override"
		c.DBPreRequest = "api.count_calls"
	})
	user := bearer(t, "test_user")
	r := p.batch(t, mixedBatch, user, "Prefer: tx=rollback")
	res := batchResults(t, r)
	if len(res) != 5 || r.Header.Get("Preference-Applied") != "tx=rollback" {
		t.Fatalf("Preference-Applied %q, %d results", r.Header.Get("Preference-Applied"), len(res))
	}
	if n := scalar(t, db, "SELECT count(*) FROM orders"); n != "0" {
		t.Fatalf("%s orders after tx=rollback", n)
	}
	res = batchResults(t, p.batch(t, `[{"method": "GET", "path": "/rpc/calls"}, {"method": "GET", "path": "/rpc/calls"}]`, user))
	jsonEq(t, res[0].Body, `"1"`)
	jsonEq(t, res[1].Body, `"1"`)
	// What pre-request sets answers every operation; what an operation
	// sets answers that operation only.
	res = batchResults(t, p.batch(t, `[{"method": "POST", "path": "/rpc/accepted"}, {"method": "GET", "path": "/rpc/calls"}]`, user))
	if res[0].Status != 202 || res[1].Status != 200 || res[0].Headers["X-Pre"] != "yes" || res[1].Headers["X-Pre"] != "yes" {
		t.Fatalf("response settings: %+v", res)
	}
}

// Limits and malformed batches are refused before anything runs.
func TestBatchLimits(t *testing.T) {
	db := NewDB(t, batchFixture)
	p := startBatch(t, db, func(c *config.Config) {
		c.BatchMaxOperations = 3
		c.MaxBodySize = 4096
	})
	user := bearer(t, "test_user")
	op := `{"method": "POST", "path": "/orders", "body": {"customer": "c"}}`
	batchError(t, p.batch(t, `[`+strings.Repeat(op+`,`, 3)+op+`]`, user), 413, "PGRST601", -1)
	batchError(t, p.batch(t, `[{"method": "POST", "path": "/orders", "body": {"customer": "`+strings.Repeat("x", 5000)+`"}}]`, user), 413, "PGRST413", -1)
	for body, code := range map[string]string{
		`{"method": "GET"}`: "PGRST600",
		`[]`:                "PGRST600",
		`[1]`:               "PGRST600",
		`[{"method": "GET", "path": "/orders", "extra": 1}]`:                               "PGRST600",
		`[{"method": "OPTIONS", "path": "/orders"}]`:                                       "PGRST605",
		`[{"method": "GET", "path": "orders"}]`:                                            "PGRST605",
		`[{"method": "GET", "path": "/"}]`:                                                 "PGRST605",
		`[{"method": "GET", "path": "/orders", "headers": {"Authorization": "Bearer x"}}]`: "PGRST605",
	} {
		r := p.batch(t, body, user)
		want := 0
		if !strings.HasPrefix(body, "[{") && body != "[1]" {
			want = -1
		}
		batchError(t, r, 400, code, want)
	}
	if n := scalar(t, db, "SELECT count(*) FROM orders"); n != "0" {
		t.Fatalf("%s orders", n)
	}
	// Without the batch media type, POST / is what it is in PostgREST.
	p.Do("POST", "/", "[]", "Content-Type: application/json").ExpectError(t, 405, "PGRST117")
}
