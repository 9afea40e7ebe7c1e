package integration

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/pgrest/pgrest/server/config"
)

const planFixture = `
CREATE TABLE shelves (id int PRIMARY KEY, label text);
INSERT INTO shelves VALUES (1, 'a'), (2, 'b');
CREATE FUNCTION shelf_labels() RETURNS SETOF text LANGUAGE sql STABLE AS 'SELECT label FROM shelves';
GRANT SELECT, INSERT, UPDATE ON shelves TO web_anon;
`

func planServer(t *testing.T) *Pgrest {
	db := NewDB(t, planFixture)
	return StartPgrest(t, db, func(c *config.Config) { c.DBPlanEnabled = true })
}

// The plan media type names the media type it explains and the options
// in PostgREST's order, and explains the whole statement: the aggregate
// that builds the body is the plan's root.
func TestPlanMediaType(t *testing.T) {
	p := planServer(t)
	r := p.Get("/shelves", "Accept: application/vnd.pgrst.plan+json; options=verbose|analyze").Expect(t, 200)
	if ct := r.Header.Get("Content-Type"); ct != `application/vnd.pgrst.plan+json; for="application/json"; options=analyze|verbose; charset=utf-8` {
		t.Fatalf("Content-Type = %q", ct)
	}
	var plan []struct {
		Plan struct {
			NodeType string   `json:"Node Type"`
			Output   []string `json:"Output"`
		} `json:"Plan"`
	}
	if err := json.Unmarshal(r.Body, &plan); err != nil || len(plan) != 1 {
		t.Fatalf("plan: %v %s", err, r.Body)
	}
	if plan[0].Plan.NodeType != "Aggregate" || len(plan[0].Plan.Output) < 3 ||
		plan[0].Plan.Output[2] != "COALESCE(json_agg(ROW(shelves.id, shelves.label)), '[]'::json)" {
		t.Fatalf("root = %s %q", plan[0].Plan.NodeType, plan[0].Plan.Output)
	}

	r = p.Get("/shelves?id=eq.1", `Accept: application/vnd.pgrst.plan; for="application/vnd.pgrst.object"`).Expect(t, 200)
	if ct := r.Header.Get("Content-Type"); ct != `application/vnd.pgrst.plan+text; for="application/vnd.pgrst.object+json"; charset=utf-8` {
		t.Fatalf("Content-Type = %q", ct)
	}
	if !strings.HasPrefix(string(r.Body), "Aggregate") || !strings.HasSuffix(string(r.Body), "\n") {
		t.Fatalf("text plan: %q", r.Body)
	}
	// A media type the resource can't produce can't be explained either.
	p.Get("/rpc/shelf_labels", `Accept: application/vnd.pgrst.plan; for="application/geo+json"`).ExpectError(t, 406, "PGRST107")
}

// Writes are explained too (without running them unless analyze is asked).
func TestPlanOfWrites(t *testing.T) {
	p := planServer(t)
	json := "Content-Type: application/json"
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/shelves", `{"id": 3, "label": "c"}`},
		{"PATCH", "/shelves?id=eq.1", `{"label": "z"}`},
	} {
		r := p.Do(tc.method, tc.path, tc.body, json, "Accept: application/vnd.pgrst.plan+json").Expect(t, 200)
		if ct := r.Header.Get("Content-Type"); ct != `application/vnd.pgrst.plan+json; for="application/json"; charset=utf-8` {
			t.Fatalf("%s: Content-Type = %q", tc.method, ct)
		}
		if !strings.Contains(string(r.Body), `"Total Cost"`) {
			t.Fatalf("%s: %s", tc.method, r.Body)
		}
	}
	p.Get("/shelves?order=id").Expect(t, 200).JSONEq(t, `[{"id":1,"label":"a"},{"id":2,"label":"b"}]`)
}

const callFixture = `
CREATE TABLE codes (c char(4), b bit(4));
CREATE FUNCTION greet(who text) RETURNS text LANGUAGE sql STABLE AS $$SELECT 'hi ' || who$$;
CREATE FUNCTION pair(x int, y int) RETURNS int LANGUAGE sql STABLE AS 'SELECT x + y';
CREATE FUNCTION pair(x int, y int, z int) RETURNS int LANGUAGE sql STABLE AS 'SELECT x + y + z';
CREATE FUNCTION raw_int(int) RETURNS int LANGUAGE sql STABLE AS 'SELECT $1';
CREATE FUNCTION raw_txt(text) RETURNS text LANGUAGE sql STABLE AS 'SELECT $1';
CREATE FUNCTION keep_code(c char, b bit) RETURNS SETOF codes LANGUAGE sql AS 'INSERT INTO codes VALUES (c, b) RETURNING *';
CREATE FUNCTION echo_codes(c char, cs char[], b bit) RETURNS TABLE(c text, cs text[], b text) LANGUAGE sql STABLE
  AS 'SELECT c::text, cs::text[], b::text';
GRANT SELECT, INSERT ON codes TO web_anon;
`

// PGRST202 says what was searched for (one parameter, several, none, a
// single unnamed body) and hints at the closest parameter list, or at the
// closest function name; functions whose parameters can't be named by a
// request are not offered.
func TestNoFunctionErrors(t *testing.T) {
	p := StartPgrest(t, NewDB(t, callFixture), nil)
	check := func(r *Resp, message, details string, hint any) {
		t.Helper()
		m := r.ExpectError(t, 404, "PGRST202")
		if m["message"] != message || m["details"] != details || m["hint"] != hint {
			t.Fatalf("got %s", r.Body)
		}
	}
	check(p.Get("/rpc/gret"), "Could not find the function public.gret without parameters in the schema cache",
		"Searched for the function public.gret without parameters, but no matches were found in the schema cache.",
		"Perhaps you meant to call the function public.greet")
	check(p.Get("/rpc/greet?wh=x"), "Could not find the function public.greet(wh) in the schema cache",
		"Searched for the function public.greet with parameter wh, but no matches were found in the schema cache.",
		"Perhaps you meant to call the function public.greet(who)")
	check(p.Get("/rpc/pair?x=1&y=2&zz=3"), "Could not find the function public.pair(x, y, zz) in the schema cache",
		"Searched for the function public.pair with parameters x, y, zz, but no matches were found in the schema cache.",
		"Perhaps you meant to call the function public.pair(x, y, z)")
	check(p.Get("/rpc/pair?nothing_alike=1"), "Could not find the function public.pair(nothing_alike) in the schema cache",
		"Searched for the function public.pair with parameter nothing_alike, but no matches were found in the schema cache.", nil)
	check(p.Do("POST", "/rpc/raw_int", `{"q": 1}`, "Content-Type: application/json"),
		"Could not find the function public.raw_int(q) in the schema cache",
		"Searched for the function public.raw_int with parameter q or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache.",
		"Perhaps you meant to call the function public.raw_txt")
	check(p.Do("POST", "/rpc/greet", `plain`, "Content-Type: text/plain"),
		"Could not find the function public.greet in the schema cache",
		"Searched for the function public.greet with a single unnamed text parameter, but no matches were found in the schema cache.", nil)
}

// char and bit parameters (length 1 when declared without one) take
// longer values; the function decides what to do with them.
func TestCharAndBitArguments(t *testing.T) {
	p := StartPgrest(t, NewDB(t, callFixture), nil)
	p.Get("/rpc/echo_codes?c=abc&cs={ab,abcd}&b=101").Expect(t, 200).
		JSONEq(t, `[{"c":"abc","cs":["ab","abcd"],"b":"101"}]`)
	m := p.Do("POST", "/rpc/keep_code", `{"c": "abcdef", "b": "1"}`, "Content-Type: application/json").ExpectError(t, 400, "22001")
	if m["message"] != "value too long for type character(4)" {
		t.Fatalf("got %v", m["message"])
	}
}

const argsFixture = `
CREATE TABLE items (id int PRIMARY KEY, tag text);
INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd');
CREATE FUNCTION items_upto(id int) RETURNS SETOF items LANGUAGE sql STABLE AS 'SELECT * FROM items WHERE items.id <= $1';
CREATE FUNCTION joined(VARIADIC parts text[]) RETURNS text LANGUAGE sql STABLE AS $$SELECT array_to_string(parts, '+')$$;
CREATE FUNCTION three(a text, b text, c text) RETURNS text LANGUAGE sql STABLE AS 'SELECT a || b || c';
CREATE FUNCTION three(a int, b int) RETURNS int LANGUAGE sql STABLE AS 'SELECT a + b';
GRANT SELECT ON items TO web_anon;
`

// On GET, a parameter whose value has an operator filters the result even
// when it is named like an argument; the others are the arguments.
func TestCallArgumentsAndFilters(t *testing.T) {
	p := StartPgrest(t, NewDB(t, argsFixture), nil)
	p.Get("/rpc/items_upto?id=3&id=gt.1&select=id").Expect(t, 200).JSONEq(t, `[{"id":2},{"id":3}]`)
	p.Get("/rpc/items_upto?id=4&id=not.in.(1,3)&select=id").Expect(t, 200).JSONEq(t, `[{"id":2},{"id":4}]`)
	p.Get("/rpc/items_upto?id=3&or=(id.eq.1,id.eq.2)&select=id").Expect(t, 200).JSONEq(t, `[{"id":1},{"id":2}]`)
	// A value without operator names no argument: no such function.
	p.Get("/rpc/items_upto?id=4&tag=a").ExpectError(t, 404, "PGRST202")
	// On POST the query string holds only filters.
	p.Do("POST", "/rpc/items_upto?id=2", `{"id": 3}`, "Content-Type: application/json").ExpectError(t, 400, "PGRST100")
}

// A urlencoded form names arguments like a query string: repeated fields
// fill a variadic parameter, and the overload is chosen by the names.
func TestCallWithForm(t *testing.T) {
	p := StartPgrest(t, NewDB(t, argsFixture), nil)
	formCT := "Content-Type: application/x-www-form-urlencoded"
	p.Do("POST", "/rpc/joined", "parts=x&parts=y&parts=z", formCT).Expect(t, 200).JSONEq(t, `"x+y+z"`)
	p.Do("POST", "/rpc/three", "a=1&b=2&c=3", formCT).Expect(t, 200).JSONEq(t, `"123"`)
	p.Do("POST", "/rpc/three", "a=1&b=2", formCT).Expect(t, 200).JSONEq(t, `3`)
}

const resultsFixture = `
CREATE TABLE pets (id int PRIMARY KEY, name text, owner_id int);
CREATE TABLE toys (id int PRIMARY KEY, pet_id int REFERENCES pets(id));
INSERT INTO pets VALUES (1, 'rex', 7), (2, 'tom', 8), (3, 'kit', 9);
INSERT INTO toys VALUES (10, 1), (11, 1);
CREATE DOMAIN pet_row AS pets;
CREATE FUNCTION bump(INOUT n int) LANGUAGE sql AS 'SELECT n + 1';
CREATE FUNCTION some_rows() RETURNS SETOF record LANGUAGE sql STABLE AS 'SELECT id, name FROM pets ORDER BY id LIMIT 2';
CREATE FUNCTION pet_as_domain(id int) RETURNS pet_row LANGUAGE sql STABLE AS 'SELECT p::pet_row FROM pets p WHERE p.id = $1';
CREATE FUNCTION all_pets() RETURNS SETOF pets LANGUAGE sql STABLE AS 'SELECT * FROM pets ORDER BY id';
CREATE FUNCTION bad_status() RETURNS void LANGUAGE plpgsql AS $$BEGIN RAISE SQLSTATE 'PTXYZ' USING message = 'odd'; END$$;
CREATE FUNCTION no_detail() RETURNS void LANGUAGE plpgsql AS $$BEGIN RAISE SQLSTATE 'PGRST' USING message = '{"code":"X1","message":"m"}'; END$$;
CREATE FUNCTION angle() RETURNS void LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION '<a & b>'; END$$;
GRANT SELECT ON pets, toys TO web_anon;
`

// Result shapes: an INOUT parameter makes a row; a bare record is a value
// whose JSON names its own fields; a domain over a row type is that row
// type (embedding works).
func TestCallResultShapes(t *testing.T) {
	p := StartPgrest(t, NewDB(t, resultsFixture), nil)
	p.Get("/rpc/bump?n=2").Expect(t, 200).JSONEq(t, `{"n":3}`)
	p.Do("POST", "/rpc/some_rows", "", "Content-Type: application/json").Expect(t, 200).
		JSONEq(t, `[{"id":1,"name":"rex"},{"id":2,"name":"tom"}]`)
	p.Get("/rpc/pet_as_domain?id=1&select=name,toys(id)").Expect(t, 200).
		JSONEq(t, `{"name":"rex","toys":[{"id":10},{"id":11}]}`)
}

// HEAD answers without a body length, and Range is a GET-only header.
func TestCallHeadAndRange(t *testing.T) {
	p := StartPgrest(t, NewDB(t, resultsFixture), nil)
	r := p.Do("HEAD", "/rpc/all_pets?limit=1&offset=1", "").Expect(t, 200)
	if _, ok := r.Header["Content-Length"]; ok {
		t.Fatalf("HEAD has Content-Length %q", r.Header.Get("Content-Length"))
	}
	r = p.Do("HEAD", "/rpc/all_pets", "", "Prefer: count=exact", "Range: 1-1").Expect(t, 200)
	if got := r.Header.Get("Content-Range"); got != "0-2/3" {
		t.Fatalf("Content-Range = %q", got)
	}
	r = p.Get("/rpc/all_pets", "Prefer: count=exact", "Range: 1-1").Expect(t, 206)
	if got := r.Header.Get("Content-Range"); got != "1-1/3" {
		t.Fatalf("Content-Range = %q", got)
	}
}

// Errors raised by functions: PT without a status is a 500, PGRST without
// DETAIL says so, and error bodies keep '<', '>' and '&' unescaped.
func TestCallRaisedErrors(t *testing.T) {
	p := StartPgrest(t, NewDB(t, resultsFixture), nil)
	p.Get("/rpc/bad_status").Expect(t, 500)
	m := p.Get("/rpc/no_detail").ExpectError(t, 500, "PGRST121")
	if m["details"] != "DETAIL is missing in the RAISE statement" {
		t.Fatalf("details = %v", m["details"])
	}
	r := p.Get("/rpc/angle").Expect(t, 400)
	if !strings.Contains(string(r.Body), `"message":"<a & b>"`) {
		t.Fatalf("body %s", r.Body)
	}
}

const handlersFixture = `
CREATE DOMAIN "text/plain" AS text;
CREATE DOMAIN "text/xml" AS xml;
CREATE DOMAIN "*/*" AS bytea;
CREATE DOMAIN "app/rows" AS text;
CREATE TABLE notes (id int PRIMARY KEY, body text);
INSERT INTO notes VALUES (1, 'one'), (2, 'two');
CREATE FUNCTION note_text() RETURNS "text/plain" LANGUAGE sql STABLE AS $$SELECT 'plain'::"text/plain"$$;
CREATE FUNCTION note_texts() RETURNS SETOF "text/plain" LANGUAGE sql STABLE AS $$SELECT 'a'::"text/plain" UNION ALL SELECT 'b'$$;
CREATE FUNCTION note_xml() RETURNS "text/xml" LANGUAGE sql STABLE AS $_$SELECT $$
<doc>hi</doc>$$::"text/xml"$_$;
CREATE FUNCTION note_any() RETURNS "*/*" LANGUAGE sql STABLE AS $$SELECT 'any'::"*/*"$$;
CREATE FUNCTION notes_trans(state "app/rows", next notes) RETURNS "app/rows" LANGUAGE sql AS $$SELECT (state || next.body || ';')::"app/rows"$$;
CREATE AGGREGATE notes_agg(notes) (initcond = '', stype = "app/rows", sfunc = notes_trans);
GRANT SELECT ON notes TO web_anon;
`

// Media type handlers: known types carry the charset, a */* handler
// answers application/octet-stream, a set of domain values is no handler,
// xml keeps PostgreSQL's output form, and a handler for a relation's rows
// does not take rows reshaped by select=.
func TestMediaHandlersLikePostgREST(t *testing.T) {
	p := StartPgrest(t, NewDB(t, handlersFixture), nil)
	expect := func(r *Resp, ct, body string) {
		t.Helper()
		r.Expect(t, 200)
		if got := r.Header.Get("Content-Type"); got != ct || string(r.Body) != body {
			t.Fatalf("got %q %q", got, r.Body)
		}
	}
	expect(p.Get("/rpc/note_text", "Accept: text/plain"), "text/plain; charset=utf-8", "plain")
	expect(p.Get("/rpc/note_xml", "Accept: text/xml"), "text/xml; charset=utf-8", "<doc>hi</doc>")
	expect(p.Get("/rpc/note_any", "Accept: weird/thing"), "application/octet-stream", "any")
	expect(p.Get("/notes?order=id", "Accept: app/rows"), "app/rows", "one;two;")
	p.Get("/rpc/note_texts", "Accept: text/plain").ExpectError(t, 406, "PGRST107")
	p.Get("/notes?select=id", "Accept: app/rows").ExpectError(t, 406, "PGRST107")
}

// The vendored JSON media types come back as PostgREST writes them, and
// a singular request that doesn't get one row says it can't coerce.
func TestVendoredMediaTypes(t *testing.T) {
	p := StartPgrest(t, NewDB(t, resultsFixture), nil)
	ct := func(r *Resp, want string) {
		t.Helper()
		if got := r.Header.Get("Content-Type"); got != want {
			t.Fatalf("Content-Type = %q, want %q", got, want)
		}
	}
	ct(p.Get("/pets?id=eq.1", "Accept: application/vnd.pgrst.array+json;nulls=stripped").Expect(t, 200),
		"application/vnd.pgrst.array+json;nulls=stripped; charset=utf-8")
	ct(p.Get("/pets?id=eq.1", "Accept: application/vnd.pgrst.array+json").Expect(t, 200), "application/json; charset=utf-8")
	ct(p.Get("/pets?id=eq.1", "Accept: application/vnd.pgrst.object;nulls=stripped").Expect(t, 200),
		"application/vnd.pgrst.object+json;nulls=stripped; charset=utf-8")
	m := p.Get("/pets", "Accept: application/vnd.pgrst.object+json").ExpectError(t, 406, "PGRST116")
	if m["message"] != "Cannot coerce the result to a single JSON object" || m["details"] != "The result contains 3 rows" {
		t.Fatalf("got %v", m)
	}
}

// max-affected with handling=strict needs rows to count: a function that
// returns one value (or nothing) is refused before it runs.
func TestCallMaxAffectedNeedsRows(t *testing.T) {
	p := StartPgrest(t, NewDB(t, resultsFixture), nil)
	strict := "Prefer: handling=strict, max-affected=5"
	p.Do("POST", "/rpc/bump", `{"n": 1}`, "Content-Type: application/json", strict).ExpectError(t, 400, "PGRST128")
	p.Do("POST", "/rpc/all_pets", "", "Content-Type: application/json", strict).Expect(t, 200)
}

// A volatile function runs once per request, also when the total is
// counted.
func TestVolatileCallCountedRunsOnce(t *testing.T) {
	db := NewDB(t, `
CREATE TABLE calls (n serial);
CREATE FUNCTION record_call() RETURNS SETOF calls LANGUAGE sql VOLATILE AS 'INSERT INTO calls DEFAULT VALUES RETURNING *';
GRANT SELECT, INSERT ON calls TO web_anon;
GRANT USAGE ON SEQUENCE calls_n_seq TO web_anon;`)
	p := StartPgrest(t, db, nil)
	r := p.Do("POST", "/rpc/record_call", "", "Content-Type: application/json", "Prefer: count=exact, tx=commit").Expect(t, 200)
	if got := r.Header.Get("Content-Range"); got != "0-0/1" {
		t.Fatalf("Content-Range = %q", got)
	}
	p.Get("/calls").Expect(t, 200).JSONEq(t, `[{"n":1}]`)
}

// Reads and calls say which preferences they honoured, in PostgREST's order.
func TestReadPreferencesApplied(t *testing.T) {
	db := NewDB(t, resultsFixture)
	p := StartPgrest(t, db, func(c *config.Config) { c.DBTxEnd = "rollback-allow-override" })
	r := p.Get("/rpc/all_pets", "Prefer: tx=commit, count=exact, handling=lenient").Expect(t, 200)
	if got := r.Header.Get("Preference-Applied"); got != "count=exact, tx=commit, handling=lenient" {
		t.Fatalf("Preference-Applied = %q", got)
	}
	r = p.Get("/pets", "Prefer: timezone=America/Los_Angeles").Expect(t, 200)
	if got := r.Header.Get("Preference-Applied"); got != "timezone=America/Los_Angeles" {
		t.Fatalf("Preference-Applied = %q", got)
	}
	if _, ok := p.Get("/pets").Expect(t, 200).Header["Preference-Applied"]; ok {
		t.Fatal("Preference-Applied without preferences")
	}
}
