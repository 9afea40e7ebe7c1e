package integration

import (
	"testing"

	"github.com/pgrest/pgrest/server/config"
)

const writeFixture = `
CREATE TABLE authors (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE books (id serial PRIMARY KEY, title text UNIQUE, author_id int REFERENCES authors(id));
INSERT INTO authors VALUES (1, 'Le Guin'), (2, 'Calvino');
INSERT INTO books (title, author_id) VALUES ('Earthsea', 1);
GRANT SELECT, INSERT, UPDATE, DELETE ON authors, books TO web_anon;
GRANT USAGE ON SEQUENCE books_id_seq TO web_anon;
`

func count(t *testing.T, p *Pgrest, path string) int {
	t.Helper()
	return len(p.Get(path).Expect(t, 200).JSON(t).([]any))
}

// W1, W2, W3, W5 (the parts A5 needs): inserts, updates, deletes, and
// failed writes that change nothing.
func TestWrites(t *testing.T) {
	db := NewDB(t, writeFixture)
	p := StartPgrest(t, db, nil)
	r := p.Do("POST", "/books", `{"title":"Dispossessed","author_id":1}`)
	r.Expect(t, 201)
	if len(r.Body) != 0 {
		t.Fatalf("return=minimal by default, got body %s", r.Body)
	}
	r = p.Do("POST", "/books?select=title,authors(name)", `[{"title":"Cities","author_id":2},{"title":"Kindred","author_id":1}]`,
		"Prefer: return=representation")
	r.Expect(t, 201).JSONEq(t, `[{"title":"Cities","authors":{"name":"Calvino"}},{"title":"Kindred","authors":{"name":"Le Guin"}}]`)
	if r.Header.Get("Preference-Applied") != "return=representation" {
		t.Fatalf("Preference-Applied %q", r.Header.Get("Preference-Applied"))
	}
	p.Do("PATCH", "/books?title=eq.Kindred", `{"author_id":2}`).Expect(t, 204)
	p.Do("PATCH", "/books?title=eq.Kindred&select=title,author_id", `{"author_id":1}`, "Prefer: return=representation").
		Expect(t, 200).JSONEq(t, `[{"title":"Kindred","author_id":1}]`)
	p.Do("DELETE", "/books?title=eq.Kindred", "").Expect(t, 204)
	if n := count(t, p, "/books"); n != 3 {
		t.Fatalf("%d books, want 3", n)
	}

	// Failures leave nothing behind.
	p.Do("POST", "/books", `{"title": oops}`).ExpectError(t, 400, "PGRST102")
	p.Do("POST", "/books", `[{"title":"a"},{"name":"b"}]`).ExpectError(t, 400, "PGRST102")
	p.Do("POST", "/books", `[{"title":"New one","author_id":1},{"title":"Earthsea","author_id":1}]`).ExpectError(t, 409, "23505")
	p.Do("POST", "/books", `{"title":"Orphan","author_id":99}`).ExpectError(t, 409, "23503")
	p.Do("POST", "/authors", `{"id":3}`).ExpectError(t, 400, "23502")
	if n := count(t, p, "/books"); n != 3 {
		t.Fatalf("a failed write changed the table: %d books", n)
	}
	// A singular response that cannot be given rolls the write back.
	p.Do("PATCH", "/books?author_id=eq.1", `{"author_id":2}`, "Accept: application/vnd.pgrst.object+json", "Prefer: return=representation").
		ExpectError(t, 406, "PGRST116")
	if n := count(t, p, "/books?author_id=eq.1"); n != 2 {
		t.Fatal("the rejected PATCH was committed")
	}
}

// A5: every db-tx-end mode, with Prefer: tx where overriding is allowed.
func TestTxEnd(t *testing.T) {
	db := NewDB(t, writeFixture)
	cases := []struct {
		mode, prefer string
		kept         bool
		applied      string
	}{
		{"commit", "", true, ""},
		{"commit", "tx=rollback", true, ""},
		{"rollback", "", false, ""},
		{"rollback", "tx=commit", false, ""},
		{"commit-allow-override", "", true, ""},
		{"commit-allow-override", "tx=rollback", false, "tx=rollback"},
		{"rollback-allow-override", "", false, ""},
		{"rollback-allow-override", "tx=commit", true, "tx=commit"},
	}
	for i, c := range cases {
		p := StartPgrest(t, db, func(cfg *config.Config) { cfg.DBTxEnd = c.mode })
		title := "tx" + string(rune('a'+i))
		headers := []string{"Prefer: return=representation"}
		if c.prefer != "" {
			headers = []string{"Prefer: return=representation, " + c.prefer}
		}
		r := p.Do("POST", "/books?select=title", `{"title":"`+title+`","author_id":1}`, headers...)
		r.Expect(t, 201).JSONEq(t, `[{"title":"`+title+`"}]`)
		want := "return=representation"
		if c.applied != "" {
			want += ", " + c.applied
		}
		if got := r.Header.Get("Preference-Applied"); got != want {
			t.Errorf("%s %q: Preference-Applied %q, want %q", c.mode, c.prefer, got, want)
		}
		if kept := count(t, p, "/books?title=eq."+title) == 1; kept != c.kept {
			t.Errorf("%s %q: row kept=%v, want %v", c.mode, c.prefer, kept, c.kept)
		}
	}
}

// W2-W4: Location, upserts (POST with resolution, PUT), order/limit and
// max-affected on PATCH and DELETE.
func TestUpsertsAndLimits(t *testing.T) {
	db := NewDB(t, writeFixture+`
CREATE TABLE pairs (a int, b text, note text, PRIMARY KEY (a, b));
GRANT SELECT, INSERT, UPDATE, DELETE ON pairs TO web_anon;
`)
	p := StartPgrest(t, db, nil)
	json := "Content-Type: application/json"
	// Location for return=headers-only, also with a composite key
	r := p.Do("POST", "/authors", `{"id": 3, "name": "Butler"}`, json, "Prefer: return=headers-only").Expect(t, 201)
	if got := r.Header.Get("Location"); got != "/authors?id=eq.3" {
		t.Errorf("Location = %q", got)
	}
	r = p.Do("POST", "/pairs", `{"a": 1, "b": "x y", "note": "n"}`, json, "Prefer: return=headers-only").Expect(t, 201)
	if got := r.Header.Get("Location"); got != "/pairs?a=eq.1&b=eq.x+y" {
		t.Errorf("Location = %q", got)
	}
	// POST upserts on the primary key or on_conflict
	r = p.Do("POST", "/authors?select=id,name&order=id", `[{"id": 1, "name": "Ursula"}, {"id": 4, "name": "Jemisin"}]`, json,
		"Prefer: return=representation, resolution=merge-duplicates").Expect(t, 201)
	r.JSONEq(t, `[{"id":1,"name":"Ursula"},{"id":4,"name":"Jemisin"}]`)
	if got := r.Header.Get("Preference-Applied"); got != "resolution=merge-duplicates, return=representation" { // PostgREST's order
		t.Errorf("Preference-Applied = %q", got)
	}
	p.Do("POST", "/authors", `[{"id": 2, "name": "ignored"}, {"id": 5, "name": "Okorafor"}]`, json, "Prefer: resolution=ignore-duplicates").Expect(t, 201)
	p.Get("/authors?id=in.(2,5)&order=id").Expect(t, 200).JSONEq(t, `[{"id":2,"name":"Calvino"},{"id":5,"name":"Okorafor"}]`)
	// every row already there: nothing inserted, 200
	p.Do("POST", "/books?on_conflict=title&select=title,author_id", `{"title": "Earthsea", "author_id": 2}`, json,
		"Prefer: return=representation, resolution=merge-duplicates").Expect(t, 200).JSONEq(t, `[{"title":"Earthsea","author_id":2}]`)
	// without the preference a duplicate is a conflict
	p.Do("POST", "/authors", `{"id": 1, "name": "again"}`, json).ExpectError(t, 409, "23505")
	// PUT: a single-row upsert addressed by the whole primary key
	p.Do("PUT", "/authors?id=eq.6", `{"id": 6, "name": "Tiptree"}`, json).Expect(t, 204)
	p.Do("PUT", "/authors?id=eq.6&select=name", `{"id": 6, "name": "Sheldon"}`, json, "Prefer: return=representation").
		Expect(t, 200).JSONEq(t, `[{"name":"Sheldon"}]`)
	p.Do("PUT", "/pairs?a=eq.1&b=eq.x%20y", `{"a": 1, "b": "x y", "note": "m"}`, json).Expect(t, 204)
	p.Get("/pairs?select=note").Expect(t, 200).JSONEq(t, `[{"note":"m"}]`)
	p.Do("PUT", "/authors?name=eq.x", `{"id": 7, "name": "x"}`, json).ExpectError(t, 405, "PGRST105")
	p.Do("PUT", "/pairs?a=eq.1", `{"a": 1, "b": "x", "note": "m"}`, json).ExpectError(t, 405, "PGRST105")
	p.Do("PUT", "/authors?id=gt.6", `{"id": 7, "name": "x"}`, json).ExpectError(t, 405, "PGRST105")
	p.Do("PUT", "/authors?id=eq.6&limit=1", `{"id": 6, "name": "x"}`, json).ExpectError(t, 400, "PGRST114")
	p.Do("PUT", "/authors?id=eq.6", `{"id": 8, "name": "x"}`, json).ExpectError(t, 400, "PGRST115")
	p.Get("/authors?id=eq.6&select=name").Expect(t, 200).JSONEq(t, `[{"name":"Sheldon"}]`)
	// order + limit on PATCH and DELETE
	p.Do("PATCH", "/authors?order=id.desc&limit=2&select=id", `{"name": "late"}`, json, "Prefer: return=representation").Expect(t, 200)
	p.Get("/authors?name=eq.late&select=id&order=id").Expect(t, 200).JSONEq(t, `[{"id":5},{"id":6}]`)
	p.Do("DELETE", "/authors?name=eq.late&order=id&limit=1&select=id", "", "Prefer: return=representation").
		Expect(t, 200).JSONEq(t, `[{"id":5}]`)
	// max-affected with handling=strict: too many rows → PGRST124, nothing changed
	e := p.Do("PATCH", "/books?id=gt.0", `{"author_id": 1}`, json, "Prefer: handling=strict, max-affected=0").ExpectError(t, 400, "PGRST124")
	if e["details"] != "The query affects 1 rows" {
		t.Errorf("PGRST124 details: %v", e["details"])
	}
	p.Get("/books?select=author_id").Expect(t, 200).JSONEq(t, `[{"author_id":2}]`)
	r = p.Do("PATCH", "/books?id=gt.0", `{"author_id": 1}`, json, "Prefer: handling=strict, max-affected=1").Expect(t, 204)
	if got := r.Header.Get("Preference-Applied"); got != "handling=strict, max-affected=1" {
		t.Errorf("Preference-Applied = %q", got)
	}
	// lenient handling ignores it
	p.Do("DELETE", "/books?id=gt.0", "", "Prefer: max-affected=0").Expect(t, 204)
}

// W1: CSV and urlencoded bodies, columns=, Prefer: missing=default.
func TestWriteBodies(t *testing.T) {
	db := NewDB(t, writeFixture+`
CREATE TABLE notes (id int PRIMARY KEY, body text DEFAULT 'empty', stars int DEFAULT 3);
GRANT SELECT, INSERT ON notes TO web_anon;
`)
	p := StartPgrest(t, db, nil)
	p.Do("POST", "/authors", "id,name\n10,Woolf\n11,\"Tolkien, J.R.R.\"", "Content-Type: text/csv").Expect(t, 201)
	p.Get("/authors?id=gte.10&order=id").Expect(t, 200).JSONEq(t, `[{"id":10,"name":"Woolf"},{"id":11,"name":"Tolkien, J.R.R."}]`)
	p.Do("POST", "/notes", "id,body\n1,NULL", "Content-Type: text/csv").Expect(t, 201)
	p.Do("POST", "/authors", "id=12&name=Austen", "Content-Type: application/x-www-form-urlencoded").Expect(t, 201)
	p.Get("/authors?id=eq.12&select=name").Expect(t, 200).JSONEq(t, `[{"name":"Austen"}]`)
	p.Do("POST", "/authors", "id,name\n13", "Content-Type: text/csv").ExpectError(t, 400, "PGRST102")
	// columns= picks the keys written; missing=default fills absent keys from defaults, keeps explicit nulls
	p.Do("POST", "/notes?columns=id,body,stars", `[{"id": 2, "body": "two"}, {"id": 3, "stars": null}]`,
		"Content-Type: application/json", "Prefer: missing=default").Expect(t, 201)
	p.Do("POST", "/notes?columns=id,body,stars", `[{"id": 4}]`, "Content-Type: application/json").Expect(t, 201)
	p.Get("/notes?order=id").Expect(t, 200).JSONEq(t, `[
		{"id":1,"body":null,"stars":3},
		{"id":2,"body":"two","stars":3},
		{"id":3,"body":"empty","stars":null},
		{"id":4,"body":null,"stars":null}]`)
}
