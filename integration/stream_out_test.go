package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pgrest/pgrest/server/config"
)

const streamOutFixture = `
CREATE TABLE shelf (id int PRIMARY KEY, label text NOT NULL);
CREATE TABLE book (id int PRIMARY KEY, shelf_id int REFERENCES shelf, title text, pages int, note text);
INSERT INTO shelf VALUES (1, 'fiction'), (2, 'poetry');
INSERT INTO book SELECT i, 1 + i % 2, 'title ' || i, i * 10, CASE WHEN i % 3 = 0 THEN NULL ELSE 'n' END FROM generate_series(1, 50) i;
CREATE FUNCTION fat_books(min int) RETURNS SETOF book LANGUAGE sql STABLE AS $$ SELECT * FROM book WHERE pages >= min ORDER BY id $$;
CREATE FUNCTION titles() RETURNS SETOF text LANGUAGE sql STABLE AS $$ SELECT title FROM book ORDER BY id LIMIT 3 $$;
CREATE FUNCTION tagged() RETURNS SETOF book LANGUAGE plpgsql STABLE AS $$
BEGIN
  PERFORM set_config('response.headers', '[{"X-Shelf": "tagged"}]', true);
  RETURN QUERY SELECT * FROM book WHERE id <= 2 ORDER BY id;
END $$;
CREATE FUNCTION boom(i int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
  IF i = 20000 THEN RAISE EXCEPTION 'boom at %', i; END IF;
  RETURN i;
END $$;
CREATE VIEW fragile AS SELECT g AS id, boom(g) AS v, repeat('x', 100) AS pad FROM generate_series(1, 40000) g;
CREATE FUNCTION slow(i int) RETURNS int LANGUAGE sql VOLATILE AS $$ SELECT i FROM pg_sleep(0.01) $$;
CREATE VIEW trickle AS SELECT g AS id, slow(g) AS v FROM generate_series(1, 100000) g;
GRANT SELECT ON shelf, book, fragile, trickle TO web_anon;
GRANT INSERT, UPDATE, DELETE ON book TO web_anon;
`

// ndjsonLines splits an NDJSON body into its decoded lines.
func ndjsonLines(t *testing.T, body []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSuffix(string(body), "\n"), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q is not a JSON object: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// sameAsJSON checks that the NDJSON answer of path has, line by line, the
// elements of its application/json answer.
func sameAsJSON(t *testing.T, p *Pgrest, path string, headers ...string) []map[string]any {
	t.Helper()
	j := p.Get(path, append(headers, "Accept: application/json")...).Expect(t, 200)
	n := p.Get(path, append(headers, "Accept: application/x-ndjson")...).Expect(t, 200)
	if ct := n.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Fatalf("Content-Type %q", ct)
	}
	var want []map[string]any
	if err := json.Unmarshal(j.Body, &want); err != nil {
		t.Fatal(err)
	}
	got := ndjsonLines(t, n.Body)
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(want)
	if len(want) == 0 && len(got) == 0 {
		return got
	}
	if string(gb) != string(wb) {
		t.Fatalf("%s:\nndjson %s\n  json %s", path, gb, wb)
	}
	return got
}

func TestStreamNDJSONReads(t *testing.T) {
	db := NewDB(t, streamOutFixture)
	p := StartPgrest(t, db, func(c *config.Config) { c.DBAggregatesEnabled = true })
	for _, path := range []string{
		"/book?order=id",
		"/book?select=id,title&pages=gt.100&order=pages.desc",
		"/book?select=title,shelf(label)&order=id&limit=5&offset=3",
		"/shelf?select=label,book(id)&book.order=id.desc&book.limit=2&order=id",
		"/book?select=shelf_id,pages.sum()&order=shelf_id",
		"/book?id=eq.-1",
		"/rpc/fat_books?min=400",
	} {
		sameAsJSON(t, p, path)
	}
	// One JSON value per line for a function returning scalars.
	r := p.Get("/rpc/titles", "Accept: application/jsonl").Expect(t, 200)
	if string(r.Body) != "\"title 1\"\n\"title 2\"\n\"title 3\"\n" || r.Header.Get("Content-Type") != "application/jsonl" {
		t.Fatalf("scalars: %q %v", r.Body, r.Header)
	}
	// nulls=stripped as for JSON arrays.
	r = p.Get("/book?select=id,note&id=eq.3", "Accept: application/x-ndjson;nulls=stripped").Expect(t, 200)
	if string(r.Body) != "{\"id\":3}\n" {
		t.Fatalf("stripped: %q", r.Body)
	}
	// response.headers set by the function arrive as headers.
	r = p.Get("/rpc/tagged", "Accept: application/x-ndjson").Expect(t, 200)
	if r.Header.Get("X-Shelf") != "tagged" || len(ndjsonLines(t, r.Body)) != 2 {
		t.Fatalf("tagged: %v %q", r.Header, r.Body)
	}
	// HEAD: the headers, no lines.
	if r := p.Do("HEAD", "/book", "", "Accept: application/x-ndjson").Expect(t, 200); len(r.Body) != 0 {
		t.Fatalf("HEAD body %q", r.Body)
	}
}

func TestStreamNDJSONMaxRowsAndCount(t *testing.T) {
	db := NewDB(t, streamOutFixture)
	max := int64(7)
	p := StartPgrest(t, db, func(c *config.Config) { c.DBMaxRows = &max })
	if got := sameAsJSON(t, p, "/book?order=id"); len(got) != 7 {
		t.Fatalf("db-max-rows: %d lines", len(got))
	}
	r := streamGet(t, "GET", p.URL+"/book?order=id&offset=2", "", "Accept: application/x-ndjson", "Prefer: count=exact")
	if r.trailer.Get("Content-Range") != "2-8/50" || r.err != nil {
		t.Fatalf("trailer Content-Range %q (headers %v) %v", r.trailer.Get("Content-Range"), r.header, r.err)
	}
	if _, ok := r.header["Content-Range"]; ok {
		t.Fatalf("Content-Range is a trailer, not a header: %v", r.header)
	}
	r = streamGet(t, "GET", p.URL+"/book?id=gt.1000", "", "Accept: application/x-ndjson", "Prefer: count=exact")
	if r.trailer.Get("Content-Range") != "*/0" || len(r.body) != 0 {
		t.Fatalf("empty: %q %q", r.trailer.Get("Content-Range"), r.body)
	}
}

// streamed is a response read to its end or to a cut.
type streamed struct {
	status          int
	header, trailer http.Header
	body            []byte
	err             error // the read error: the transfer was cut
}

func streamGet(t *testing.T, method, url, body string, headers ...string) *streamed {
	t.Helper()
	res, err := http.DefaultClient.Do(mustRequest(t, method, url, body, headers...))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return &streamed{status: res.StatusCode, header: res.Header, trailer: res.Trailer, body: b, err: err}
}

func TestStreamNDJSONWrites(t *testing.T) {
	db := NewDB(t, streamOutFixture)
	p := StartPgrest(t, db, nil)
	r := p.Do("POST", "/book?select=id,title", `[{"id":101,"title":"a","shelf_id":1},{"id":102,"title":"b","shelf_id":2}]`,
		"Accept: application/x-ndjson", "Prefer: return=representation", "Content-Type: application/json").Expect(t, 201)
	if string(r.Body) != "{\"id\":101,\"title\":\"a\"}\n{\"id\":102,\"title\":\"b\"}\n" {
		t.Fatalf("POST: %q", r.Body)
	}
	s := streamGet(t, "PATCH", p.URL+"/book?id=gt.100&select=id,pages&order=id", `{"pages":1}`,
		"Accept: application/x-ndjson", "Prefer: return=representation", "Content-Type: application/json")
	if s.status != 200 || string(s.body) != "{\"id\":101,\"pages\":1}\n{\"id\":102,\"pages\":1}\n" || s.trailer.Get("Content-Range") != "0-1/*" {
		t.Fatalf("PATCH: %d %q %v", s.status, s.body, s.trailer)
	}
	// max-affected is checked after the rows: the transfer is cut and nothing is written.
	s = streamGet(t, "DELETE", p.URL+"/book?id=gt.100", "",
		"Accept: application/x-ndjson", "Prefer: return=representation, handling=strict, max-affected=1")
	if s.err == nil {
		t.Fatal("a failed check after the first line must cut the transfer")
	}
	if n := countRows(t, db, "SELECT count(*) FROM book WHERE id > 100"); n != 2 {
		t.Fatalf("rows after the failed DELETE: %d", n)
	}
	// Without representation the answer is as for JSON.
	p.Do("DELETE", "/book?id=gt.100", "", "Accept: application/x-ndjson").Expect(t, 204)
}

func TestStreamNDJSONErrors(t *testing.T) {
	db := NewDB(t, streamOutFixture)
	p := StartPgrest(t, db, nil)
	// An error before the first line is an ordinary error response.
	p.Get("/book?select=nope", "Accept: application/x-ndjson").ExpectError(t, 400, "42703")
	// An error after it cuts the chunked transfer: no terminating chunk.
	s := streamGet(t, "GET", p.URL+"/fragile", "", "Accept: application/x-ndjson")
	if s.status != 200 || s.err == nil {
		t.Fatalf("status %d, the transfer completed (%d bytes) despite the error", s.status, len(s.body))
	}
	if n := strings.Count(string(s.body), "\n"); n == 0 || n >= 20000 {
		t.Fatalf("%d lines before the cut", n)
	}
}

func TestStreamNDJSONClientGoneCancels(t *testing.T) {
	db := NewDB(t, streamOutFixture)
	p := StartPgrest(t, db, nil)
	ctx, cancel := context.WithCancel(context.Background())
	req := mustRequest(t, "GET", p.URL+"/trickle", "", "Accept: application/x-ndjson")
	res, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(res.Body).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, db, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%trickle%' AND state = 'active' AND pid <> pg_backend_pid()"); n != 1 {
		t.Fatalf("%d running statements while streaming", n)
	}
	cancel()
	res.Body.Close()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		n := countRows(t, db, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%trickle%' AND state = 'active' AND pid <> pg_backend_pid()")
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the statement still runs after the client left")
		}
	}
}

func mustRequest(t *testing.T, method, url, body string, headers ...string) *http.Request {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	return req
}

// countRows runs a count query as the superuser.
func countRows(t *testing.T, db, sql string) int64 {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), pg.URI("postgres", db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int64
	if err := conn.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A stream runs as the request's role, under its policies, after the
// pre-request, as the JSON answer does.
func TestStreamNDJSONRoleAndPreRequest(t *testing.T) {
	db := NewDB(t, `
CREATE TABLE note (id int PRIMARY KEY, owner text, body text);
INSERT INTO note VALUES (1, 'test_user', 'mine'), (2, 'other_user', 'theirs'), (3, 'test_user', 'also mine');
ALTER TABLE note ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON note USING (owner = current_user);
GRANT SELECT ON note TO test_user, other_user;
CREATE FUNCTION stamp() RETURNS void LANGUAGE sql AS $$ SELECT set_config('response.headers', '[{"X-Who": "' || current_user || '"}]', true) $$;
GRANT EXECUTE ON FUNCTION stamp() TO test_user, other_user, web_anon;
`)
	p := StartPgrest(t, db, func(c *config.Config) { c.DBPreRequest = "stamp" })
	auth := "Authorization: Bearer " + token(t, map[string]any{"role": "test_user"})
	got := sameAsJSON(t, p, "/note?order=id", auth)
	if len(got) != 2 || got[1]["body"] != "also mine" {
		t.Fatalf("policy: %v", got)
	}
	r := p.Get("/note", auth, "Accept: application/x-ndjson").Expect(t, 200)
	if r.Header.Get("X-Who") != "test_user" {
		t.Fatalf("pre-request header: %v", r.Header)
	}
	// Refused before the first line: an ordinary error.
	p.Get("/note", "Accept: application/x-ndjson").ExpectError(t, 401, "42501")
}
