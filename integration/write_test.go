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
