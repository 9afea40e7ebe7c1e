package integration

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pgrest/pgrest/server/config"
)

const streamInFixture = `
CREATE TYPE mood AS ENUM ('sad', 'happy');
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE TABLE crate (
  id int PRIMARY KEY,
  label text NOT NULL,
  qty int CHECK (qty >= 0),
  owner text DEFAULT current_user,
  stamped text,
  tags text[],
  made date DEFAULT '2020-01-01',
  feel mood,
  rank posint
);
CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.stamped := 'by ' || current_user || ' via ' || current_setting('request.method', true); RETURN NEW; END $$;
CREATE TRIGGER crate_stamp BEFORE INSERT ON crate FOR EACH ROW EXECUTE FUNCTION stamp();
ALTER TABLE crate ENABLE ROW LEVEL SECURITY;
CREATE POLICY crate_small ON crate FOR INSERT TO web_anon WITH CHECK (coalesce(qty, 0) < 1000);
CREATE POLICY crate_read ON crate FOR SELECT TO web_anon USING (true);
CREATE POLICY crate_upd ON crate FOR UPDATE TO web_anon USING (true);
GRANT SELECT, INSERT, UPDATE ON crate TO web_anon;
`

// bulkOn serves db with every CSV and JSON array body going by COPY.
func bulkOn(t *testing.T, db string) *Pgrest {
	return StartPgrest(t, db, func(c *config.Config) { c.BulkMinBytes = 0 })
}

// tableRows is a table's rows as record text, ordered by id, read as
// the superuser: what a load left behind, whatever the role could see.
func tableRows(t *testing.T, db, table string) string {
	t.Helper()
	var out []string
	rows, err := superConn(t, db).Query(t.Context(), "SELECT row("+table+".*)::text FROM "+table+" ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return strings.Join(out, "\n")
}

func crateRows(t *testing.T, db string) string { t.Helper(); return tableRows(t, db, "crate") }

// The same rows through a small JSON body and through each bulk format
// leave the same table: defaults, triggers, role and settings alike.
func TestStreamInSameAsJSON(t *testing.T) {
	small := NewDB(t, streamInFixture)
	StartPgrest(t, small, nil).Do("POST", "/crate",
		`[{"id":1,"label":"a","qty":3,"tags":["x","y"],"feel":"happy","rank":2},{"id":2,"label":"b, c","qty":null,"tags":null,"feel":null,"rank":null}]`,
		"Content-Type: application/json").Expect(t, 201)
	want := crateRows(t, small)
	if !strings.Contains(want, "by web_anon via POST") {
		t.Fatalf("fixture: %s", want)
	}
	for _, c := range []struct{ ct, body string }{
		{"text/csv", "id,label,qty,tags,feel,rank\n1,a,3,\"{x,y}\",happy,2\n2,\"b, c\",NULL,\"NULL\",NULL,NULL\n"},
		{"application/x-ndjson", `{"id":1,"label":"a","qty":3,"tags":["x","y"],"feel":"happy","rank":2}` + "\n\n" + `{"id":2,"label":"b, c","qty":null,"tags":null,"feel":null,"rank":null}`},
		{"application/jsonl", `{"id":1,"label":"a","qty":3,"tags":["x","y"],"feel":"happy","rank":2}` + "\r\n" + `{"id":2,"label":"b, c","qty":null,"tags":null,"feel":null,"rank":null}` + "\r\n"},
		{"application/json", `[{"id":1,"label":"a","qty":3,"tags":["x","y"],"feel":"happy","rank":2}, {"id":2,"label":"b, c","qty":null,"tags":null,"feel":null,"rank":null}]`},
	} {
		db := NewDB(t, streamInFixture)
		r := bulkOn(t, db).Do("POST", "/crate", c.body, "Content-Type: "+c.ct).Expect(t, 201)
		if r.Header.Get("Content-Range") != "*/*" {
			t.Fatalf("%s: Content-Range %q", c.ct, r.Header.Get("Content-Range"))
		}
		if got := crateRows(t, db); got != want {
			t.Fatalf("%s:\n got %s\nwant %s", c.ct, got, want)
		}
	}
}

func TestStreamInPreferences(t *testing.T) {
	db := NewDB(t, streamInFixture)
	p := bulkOn(t, db)
	// return=representation, select and the rows in body order.
	r := p.Do("POST", "/crate?select=id,label,made", "id,label\n5,e\n4,d\n", "Content-Type: text/csv",
		"Prefer: return=representation").Expect(t, 201)
	r.JSONEq(t, `[{"id":5,"label":"e","made":"2020-01-01"},{"id":4,"label":"d","made":"2020-01-01"}]`)
	// columns= picks the columns; missing=default gives the others their default.
	p.Do("POST", "/crate?columns=id,label,made", "id,label,qty\n6,f,9\n", "Content-Type: text/csv",
		"Prefer: missing=default").Expect(t, 201)
	if got := crateRows(t, db); !strings.Contains(got, "(6,f,,web_anon,\"by web_anon via POST\",,2020-01-01,,)") {
		t.Fatalf("columns=: %s", got)
	}
	// merge-duplicates updates, ignore-duplicates skips; the status says whether anything was inserted.
	p.Do("POST", "/crate", "{\"id\":5,\"label\":\"E\"}\n", "Content-Type: application/x-ndjson",
		"Prefer: resolution=merge-duplicates").Expect(t, 200)
	p.Do("POST", "/crate", "{\"id\":4,\"label\":\"D\"}\n{\"id\":7,\"label\":\"g\"}\n", "Content-Type: application/x-ndjson",
		"Prefer: resolution=ignore-duplicates").Expect(t, 201)
	if got := crateRows(t, db); !strings.Contains(got, "(5,E,") || !strings.Contains(got, "(4,d,") || !strings.Contains(got, "(7,g,") {
		t.Fatalf("resolution: %s", got)
	}
	// NDJSON answer of a bulk insert.
	r = p.Do("POST", "/crate?select=id", "{\"id\":8,\"label\":\"h\"}\n{\"id\":9,\"label\":\"i\"}\n", "Content-Type: application/x-ndjson",
		"Prefer: return=representation", "Accept: application/x-ndjson").Expect(t, 201)
	if string(r.Body) != "{\"id\":8}\n{\"id\":9}\n" {
		t.Fatalf("NDJSON out: %q", r.Body)
	}
	// An empty body inserts nothing.
	p.Do("POST", "/crate", "", "Content-Type: application/x-ndjson").Expect(t, 201)
}

func TestStreamInBadInput(t *testing.T) {
	db := NewDB(t, streamInFixture)
	p := bulkOn(t, db)
	var csv, nd strings.Builder
	csv.WriteString("id,label,qty\n")
	for i := 1; i <= 3000; i++ {
		qty := fmt.Sprint(i % 50)
		if i == 2500 {
			qty = "lots"
		}
		fmt.Fprintf(&csv, "%d,l%d,%s\n", i, i, qty)
		if i == 2000 {
			nd.WriteString("{\"id\":2000,\"label\":\n")
		} else {
			fmt.Fprintf(&nd, "{\"id\":%d,\"label\":\"l\"}\n", i)
		}
	}
	e := p.Do("POST", "/crate", csv.String(), "Content-Type: text/csv").ExpectError(t, 400, "22P02")
	if e["details"] != "Line 2501 of the body, column qty" {
		t.Fatalf("type error: %v", e)
	}
	e = p.Do("POST", "/crate", nd.String(), "Content-Type: application/x-ndjson").ExpectError(t, 400, "PGRST102")
	if e["details"] != "Line 2000 of the body" {
		t.Fatalf("malformed line: %v", e)
	}
	e = p.Do("POST", "/crate", "{\"id\":1,\"label\":\"a\"}\n{\"id\":2,\"qty\":1}\n", "Content-Type: application/x-ndjson").ExpectError(t, 400, "PGRST102")
	if e["message"] != "All object keys must match" || e["details"] != "Line 2 of the body" {
		t.Fatalf("keys: %v", e)
	}
	p.Do("POST", "/crate", `[{"id":1,"label":"a"},{"id":2,"label":"b"},]`, "Content-Type: application/json").ExpectError(t, 400, "PGRST102")
	// A column the table lacks, as for JSON.
	p.Do("POST", "/crate", "id,nope\n1,2\n", "Content-Type: text/csv").ExpectError(t, 400, "PGRST204")
	// A row the policy refuses, constraint violations: nothing is written.
	p.Do("POST", "/crate", "id,label,qty\n1,a,1\n2,b,5000\n", "Content-Type: text/csv").ExpectError(t, 401, "42501")
	p.Do("POST", "/crate", "id,label,qty\n1,a,1\n2,b,-1\n", "Content-Type: text/csv").ExpectError(t, 400, "23514")
	p.Do("POST", "/crate", "id,label\n1,a\n1,b\n", "Content-Type: text/csv").ExpectError(t, 409, "23505")
	if got := crateRows(t, db); got != "" {
		t.Fatalf("rows written: %s", got)
	}
}

// A client that leaves mid-upload writes nothing and holds nothing.
func TestStreamInClientGone(t *testing.T) {
	db := NewDB(t, streamInFixture)
	p := bulkOn(t, db)
	c, err := net.Dial("tcp", strings.TrimPrefix(p.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "POST /crate HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nTransfer-Encoding: chunked\r\n\r\n")
	part := "id,label\n1,a\n2,b\n"
	fmt.Fprintf(c, "%x\r\n%s\r\n", len(part), part)
	time.Sleep(300 * time.Millisecond)
	c.Close()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if countRows(t, db, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state <> 'idle' AND pid <> pg_backend_pid()") == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the load still runs after the client left")
		}
	}
	if got := crateRows(t, db); got != "" {
		t.Fatalf("rows written: %s", got)
	}
	p.Do("POST", "/crate", "id,label\n1,a\n", "Content-Type: text/csv").Expect(t, 201)
}

const streamRowsFixture = `
CREATE TABLE reading (id int PRIMARY KEY, note text, val numeric, ok bool, at timestamptz, doc jsonb, raw json, made date DEFAULT '2021-02-03');
GRANT SELECT, INSERT ON reading TO web_anon;
`

func readingRows(t *testing.T, db string) string { t.Helper(); return tableRows(t, db, "reading") }

// Rows of plain columns go to COPY as CSV: values read as a JSON body's.
func TestStreamInJSONAsRows(t *testing.T) {
	rowsJSON := []string{
		`{"id":1,"note":"a \"quoted\", comma\nnew line \u00e9 \\ end","val":1.50,"ok":true,"at":"2020-01-02T03:04:05Z","doc":{"k":[1,"x"]},"raw":"just a string"}`,
		`{"id":2,"note":"NULL","val":null,"ok":false,"at":null,"doc":null,"raw":[1, 2]}`,
		`{"id":3,"note":"","val":-2e3,"ok":null,"at":"2021-05-06","doc":"str","raw":{"a":null}}`,
	}
	small := NewDB(t, streamRowsFixture)
	StartPgrest(t, small, nil).Do("POST", "/reading", "["+strings.Join(rowsJSON, ",")+"]", "Content-Type: application/json").Expect(t, 201)
	want := readingRows(t, small)
	for _, c := range []struct{ ct, body string }{
		{"application/x-ndjson", strings.Join(rowsJSON, "\n")},
		{"application/json", "[" + strings.Join(rowsJSON, ",") + "]"},
	} {
		db := NewDB(t, streamRowsFixture)
		bulkOn(t, db).Do("POST", "/reading", c.body, "Content-Type: "+c.ct).Expect(t, 201)
		if got := readingRows(t, db); got != want {
			t.Fatalf("%s:\n got %s\nwant %s", c.ct, got, want)
		}
	}
	// columns= takes those keys; a key not given is null; extra keys are ignored.
	db := NewDB(t, streamRowsFixture)
	p := bulkOn(t, db)
	p.Do("POST", "/reading?columns=id,note,made", "{\"id\":1,\"note\":\"x\",\"zzz\":1}\n{\"id\":2,\"made\":\"2000-01-01\"}\n",
		"Content-Type: application/x-ndjson").Expect(t, 201)
	if got := readingRows(t, db); got != "(1,x,,,,,,)\n(2,,,,,,,2000-01-01)" {
		t.Fatalf("columns=: %s", got)
	}
	// A bad value is named by its row.
	var nd strings.Builder
	for i := 1; i <= 3000; i++ {
		val := fmt.Sprint(i)
		if i == 2750 {
			val = `"many"`
		}
		fmt.Fprintf(&nd, "{\"id\":%d,\"val\":%s}\n", i+10, val)
	}
	e := p.Do("POST", "/reading", nd.String(), "Content-Type: application/x-ndjson").ExpectError(t, 400, "22P02")
	if e["details"] != "Row 2750 of the body, column val" {
		t.Fatalf("type error: %v", e)
	}
	if n := countRows(t, db, "SELECT count(*) FROM reading"); n != 2 {
		t.Fatalf("rows: %d", n)
	}
}

// A bulk body over pgrest-max-body-size is refused mid-stream, whatever
// its format, and nothing is written.
func TestStreamInBodyCap(t *testing.T) {
	db := NewDB(t, streamRowsFixture)
	p := StartPgrest(t, db, func(c *config.Config) { c.BulkMinBytes, c.MaxBodySize = 0, 2000 })
	var csv, nd strings.Builder
	csv.WriteString("id,note\n")
	for i := 1; i <= 800; i++ {
		fmt.Fprintf(&csv, "%d,n\n", i)
		fmt.Fprintf(&nd, "{\"id\":%d,\"note\":\"n\"}\n", i)
	}
	for _, c := range []struct{ ct, body string }{{"text/csv", csv.String()}, {"application/x-ndjson", nd.String()}} {
		req := mustRequest(t, "POST", p.URL+"/reading", "", "Content-Type: "+c.ct)
		req.Body = io.NopCloser(strings.NewReader(c.body)) // chunked: no length to refuse it early
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 413 || !strings.Contains(string(b), "PGRST413") {
			t.Fatalf("%s: %d %s", c.ct, res.StatusCode, b)
		}
	}
	if n := countRows(t, db, "SELECT count(*) FROM reading"); n != 0 {
		t.Fatalf("rows: %d", n)
	}
}

// Prefer: tx=rollback and count=exact apply to a bulk load as to any insert.
func TestStreamInTxAndCount(t *testing.T) {
	db := NewDB(t, streamRowsFixture)
	p := StartPgrest(t, db, func(c *config.Config) { c.BulkMinBytes, c.DBTxEnd = 0, "commit-allow-override" })
	r := p.Do("POST", "/reading", "id,note\n1,a\n2,b\n", "Content-Type: text/csv", "Prefer: tx=rollback, count=exact").Expect(t, 201)
	if r.Header.Get("Content-Range") != "*/2" {
		t.Fatalf("Content-Range %q", r.Header.Get("Content-Range"))
	}
	if n := countRows(t, db, "SELECT count(*) FROM reading"); n != 0 {
		t.Fatalf("rolled back, yet %d rows", n)
	}
	r = p.Do("POST", "/reading", "{\"id\":1}\n", "Content-Type: application/x-ndjson", "Prefer: return=headers-only").Expect(t, 201)
	if r.Header.Get("Location") != "/reading?id=eq.1" {
		t.Fatalf("Location %q", r.Header.Get("Location"))
	}
	if n := countRows(t, db, "SELECT count(*) FROM reading"); n != 1 {
		t.Fatalf("committed, yet %d rows", n)
	}
}
