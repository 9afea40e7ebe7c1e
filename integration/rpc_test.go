package integration

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
)

const rpcFixture = `
CREATE TABLE authors (id int PRIMARY KEY, name text);
CREATE TABLE books (id int PRIMARY KEY, title text, author_id int REFERENCES authors(id), pages int);
INSERT INTO authors VALUES (1, 'Le Guin'), (2, 'Calvino');
INSERT INTO books VALUES (10, 'Earthsea', 1, 200), (11, 'Dispossessed', 1, 350), (12, 'Cities', 2, 160);
CREATE TABLE log (msg text);

CREATE FUNCTION add_them(a int, b int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT a + b';
CREATE FUNCTION hello(name text DEFAULT 'world') RETURNS text LANGUAGE sql STABLE AS $$SELECT 'hello ' || name$$;
CREATE FUNCTION long_books(min_pages int) RETURNS SETOF books LANGUAGE sql STABLE AS 'SELECT * FROM books WHERE pages >= min_pages';
CREATE FUNCTION first_book() RETURNS books LANGUAGE sql STABLE AS 'SELECT * FROM books ORDER BY id LIMIT 1';
CREATE FUNCTION stats() RETURNS TABLE(total bigint, longest int) LANGUAGE sql STABLE AS 'SELECT count(*), max(pages) FROM books';
CREATE FUNCTION numbers(n int) RETURNS SETOF int LANGUAGE sql IMMUTABLE AS 'SELECT generate_series(1, n)';
CREATE FUNCTION write_log(msg text) RETURNS void LANGUAGE sql VOLATILE AS 'INSERT INTO log VALUES (msg)';
CREATE FUNCTION echo_json(json) RETURNS json LANGUAGE sql IMMUTABLE AS 'SELECT $1';
CREATE FUNCTION echo_text(text) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT upper($1)';
CREATE FUNCTION sum_all(VARIADIC xs int[]) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT sum(x)::int FROM unnest(xs) x';
CREATE FUNCTION arr_len(xs int[]) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT cardinality(xs)';
CREATE FUNCTION over(a int) RETURNS text LANGUAGE sql IMMUTABLE AS $$SELECT 'one'$$;
CREATE FUNCTION over(a int, b int) RETURNS text LANGUAGE sql IMMUTABLE AS $$SELECT 'two'$$;
CREATE FUNCTION amb(a int, b int DEFAULT 1) RETURNS text LANGUAGE sql IMMUTABLE AS $$SELECT 'x'$$;
CREATE FUNCTION amb(a int, c text DEFAULT 'z') RETURNS text LANGUAGE sql IMMUTABLE AS $$SELECT 'y'$$;
CREATE FUNCTION fail() RETURNS int LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'nope' USING ERRCODE = 'P0001'; END$$;
CREATE FUNCTION iso() RETURNS text LANGUAGE sql SET default_transaction_isolation = 'serializable' AS $$SELECT current_setting('transaction_isolation')$$;
CREATE FUNCTION slow() RETURNS int LANGUAGE sql SET statement_timeout = '50ms' AS 'SELECT 1 FROM pg_sleep(1)';
GRANT SELECT ON ALL TABLES IN SCHEMA public TO web_anon;
GRANT INSERT ON log TO web_anon;
`

// F1-F4: calling functions by POST and GET, argument forms, overloads, result shapes.
func TestRPC(t *testing.T) {
	db := NewDB(t, rpcFixture)
	p := StartPgrest(t, db, nil)
	json := "Content-Type: application/json"

	// scalar by POST and by GET
	p.Do("POST", "/rpc/add_them", `{"a": 1, "b": 2}`, json).Expect(t, 200).JSONEq(t, `3`)
	p.Get("/rpc/add_them?a=40&b=2").Expect(t, 200).JSONEq(t, `42`)
	// defaults
	p.Get("/rpc/hello").Expect(t, 200).JSONEq(t, `"hello world"`)
	p.Do("POST", "/rpc/hello", `{"name": "pgrest"}`, json).Expect(t, 200).JSONEq(t, `"hello pgrest"`)
	p.Do("POST", "/rpc/hello", "", json).Expect(t, 200).JSONEq(t, `"hello world"`)
	// setof a table: filters, select, order, limit, count, embedding
	p.Get("/rpc/long_books?min_pages=170&select=title&order=pages.desc").Expect(t, 200).
		JSONEq(t, `[{"title":"Dispossessed"},{"title":"Earthsea"}]`)
	p.Get("/rpc/long_books?min_pages=0&id=gt.10&select=id,authors(name)&order=id").Expect(t, 200).
		JSONEq(t, `[{"id":11,"authors":{"name":"Le Guin"}},{"id":12,"authors":{"name":"Calvino"}}]`)
	r := p.Get("/rpc/long_books?min_pages=0&limit=1&order=id", "Prefer: count=exact").Expect(t, 206)
	if got := r.Header.Get("Content-Range"); got != "0-0/3" {
		t.Errorf("Content-Range = %q", got)
	}
	p.Do("POST", "/rpc/long_books?select=id&order=id", `{"min_pages": 300}`, json).Expect(t, 200).JSONEq(t, `[{"id":11}]`)
	// a single row is an object; vnd.pgrst.object works on sets
	p.Get("/rpc/first_book?select=id,title").Expect(t, 200).JSONEq(t, `{"id":10,"title":"Earthsea"}`)
	p.Get("/rpc/long_books?min_pages=300&select=id", "Accept: application/vnd.pgrst.object+json").Expect(t, 200).JSONEq(t, `{"id":11}`)
	p.Get("/rpc/long_books?min_pages=0", "Accept: application/vnd.pgrst.object+json").ExpectError(t, 406, "PGRST116")
	// RETURNS TABLE, setof scalar, CSV
	p.Get("/rpc/stats").Expect(t, 200).JSONEq(t, `[{"total":3,"longest":350}]`)
	p.Get("/rpc/numbers?n=3").Expect(t, 200).JSONEq(t, `[1,2,3]`)
	csv := p.Get("/rpc/long_books?min_pages=300&select=id,title", "Accept: text/csv").Expect(t, 200)
	if string(csv.Body) != "id,title\n11,Dispossessed" {
		t.Errorf("csv body = %q", csv.Body)
	}
	// void: 204, and the write happened (POST on a volatile function)
	r = p.Do("POST", "/rpc/write_log", `{"msg": "hi"}`, json).Expect(t, 204)
	if len(r.Body) != 0 {
		t.Errorf("void body = %q", r.Body)
	}
	p.Get("/log").Expect(t, 200).JSONEq(t, `[{"msg":"hi"}]`)
	// a volatile function over GET runs read-only: 405 from 25006
	p.Get("/rpc/write_log?msg=nope").ExpectError(t, 405, "25006")
	// a single unnamed json/text parameter takes the whole body
	p.Do("POST", "/rpc/echo_json", `[1, {"a": 2}]`, json).Expect(t, 200).JSONEq(t, `[1, {"a": 2}]`)
	p.Do("POST", "/rpc/echo_text", `shout`, "Content-Type: text/plain").Expect(t, 200).JSONEq(t, `"SHOUT"`)
	// variadic and array arguments
	p.Get("/rpc/sum_all?xs=1&xs=2&xs=3").Expect(t, 200).JSONEq(t, `6`)
	p.Do("POST", "/rpc/sum_all", `{"xs": [4, 5]}`, json).Expect(t, 200).JSONEq(t, `9`)
	p.Get("/rpc/arr_len?xs={1,2,3}").Expect(t, 200).JSONEq(t, `3`)
	p.Do("POST", "/rpc/arr_len", `{"xs": [1, 2]}`, json).Expect(t, 200).JSONEq(t, `2`)
	// overloads chosen by argument names
	p.Get("/rpc/over?a=1").Expect(t, 200).JSONEq(t, `"one"`)
	p.Do("POST", "/rpc/over", `{"a": 1, "b": 2}`, json).Expect(t, 200).JSONEq(t, `"two"`)
	e := p.Get("/rpc/amb?a=1").ExpectError(t, 300, "PGRST203")
	if !strings.Contains(e["message"].(string), "public.amb(a => integer, b => integer)") {
		t.Errorf("PGRST203 message: %v", e["message"])
	}
	// no such function or no such arguments
	e = p.Do("POST", "/rpc/add_them", `{"a": 1, "c": 2}`, json).ExpectError(t, 404, "PGRST202")
	if e["message"] != "Could not find the function public.add_them(a, c) in the schema cache" ||
		e["hint"] != "Perhaps you meant to call the function public.add_them(a, b)" {
		t.Errorf("PGRST202 body: %v", e)
	}
	e = p.Get("/rpc/add_thme?a=1&b=2").ExpectError(t, 404, "PGRST202")
	if e["hint"] != "Perhaps you meant to call the function public.add_them" {
		t.Errorf("PGRST202 hint: %v", e["hint"])
	}
	p.Get("/rpc/add_them?a=1&b=2&c=3").ExpectError(t, 404, "PGRST202")
	// other verbs, bad bodies, errors from the function
	p.Do("PATCH", "/rpc/add_them", `{}`, json).ExpectError(t, 405, "PGRST101")
	p.Do("POST", "/rpc/add_them", `{"a": 1,`, json).ExpectError(t, 400, "PGRST102")
	p.Do("POST", "/rpc/add_them", `{"a": "x", "b": 1}`, json).ExpectError(t, 400, "22P02")
	p.Do("POST", "/rpc/fail", `{}`, json).ExpectError(t, 400, "P0001")
	// db-hoisted-tx-settings: the function's statement_timeout applies to the call
	p.Do("POST", "/rpc/slow", `{}`, json).ExpectError(t, 500, "57014")
	// a function's isolation level is the transaction's (A6)
	p.Get("/rpc/iso").Expect(t, 200).JSONEq(t, `"serializable"`)
	p.Get("/rpc/hello").Expect(t, 200)
	// HEAD: no body
	h := p.Do("HEAD", "/rpc/numbers?n=2", "")
	if h.Status != http.StatusOK || len(h.Body) != 0 {
		t.Errorf("HEAD: %d %q", h.Status, h.Body)
	}
}

// E6: computed relationships and computed fields.
func TestComputed(t *testing.T) {
	db := NewDB(t, rpcFixture+`
CREATE FUNCTION author(books) RETURNS SETOF authors ROWS 1 LANGUAGE sql STABLE AS 'SELECT * FROM authors WHERE id = $1.author_id';
CREATE FUNCTION long_ones(authors) RETURNS SETOF books LANGUAGE sql STABLE AS 'SELECT * FROM books WHERE author_id = $1.id AND pages > 180';
CREATE FUNCTION label(books) RETURNS text LANGUAGE sql IMMUTABLE AS $$SELECT $1.title || ' (' || $1.pages || ')'$$;
GRANT INSERT ON books TO web_anon;
`)
	p := StartPgrest(t, db, nil)
	p.Get("/books?select=id,author(name)&order=id&limit=2").Expect(t, 200).
		JSONEq(t, `[{"id":10,"author":{"name":"Le Guin"}},{"id":11,"author":{"name":"Le Guin"}}]`)
	p.Get("/authors?select=name,long_ones(title)&order=id&long_ones.order=id").Expect(t, 200).
		JSONEq(t, `[{"name":"Le Guin","long_ones":[{"title":"Earthsea"},{"title":"Dispossessed"}]},{"name":"Calvino","long_ones":[]}]`)
	p.Get("/authors?select=name,long_ones()&long_ones=not.is.null&order=id").Expect(t, 200).JSONEq(t, `[{"name":"Le Guin"}]`)
	// computed fields: select, filter, order
	p.Get("/books?select=id,label&label=like.*200*").Expect(t, 200).JSONEq(t, `[{"id":10,"label":"Earthsea (200)"}]`)
	p.Get("/books?select=id&order=label.desc&limit=1").Expect(t, 200).JSONEq(t, `[{"id":10}]`)
	// on a function's result, and on the rows a write returns
	p.Get("/rpc/long_books?min_pages=300&select=title,author(name)").Expect(t, 200).
		JSONEq(t, `[{"title":"Dispossessed","author":{"name":"Le Guin"}}]`)
	p.Do("POST", "/books?select=id,author(name)", `{"id": 13, "title": "Invisible", "author_id": 2, "pages": 165}`,
		"Content-Type: application/json", "Prefer: return=representation").Expect(t, 201).
		JSONEq(t, `[{"id":13,"author":{"name":"Calvino"}}]`)
	// a repeated call shape is planned once per schema version (a catch-up
	// refresh right after start may still bump the version once)
	before := p.App.Planner().Hits()
	for i := 0; i < 5; i++ {
		p.Get("/rpc/long_books?min_pages="+strconv.Itoa(100+i)+"&select=id,author(name)").Expect(t, 200)
	}
	if hits := p.App.Planner().Hits() - before; hits < 2 {
		t.Errorf("memo hits for a repeated call shape = %d, want >= 2", hits)
	}
}
