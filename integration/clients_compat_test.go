package integration

import (
	"strings"
	"testing"

	"github.com/pgrest/pgrest/server/config"
)

// Behaviours client libraries depend on, each checked over plain HTTP too
// (postgrest-js exercises them in clients_test.go).
const clientsCompatFixture = `
CREATE TABLE people (
  id      int PRIMARY KEY,
  name    text NOT NULL,
  boss_id int REFERENCES people(id),
  score   int NOT NULL DEFAULT 10,
  labels  text[] NOT NULL DEFAULT '{}',
  note    text
);
CREATE TABLE pets (id int PRIMARY KEY, owner_id int REFERENCES people(id), kind text);
INSERT INTO people VALUES (1, 'Ann', NULL, 1, '{a,b}', 'say "hi"'), (2, 'Bo Li', 1, 2, '{}', ''),
  (3, 'C,D', 1, 3, '{x}', NULL), (4, 'back\slash', 2, 4, '{"y z"}', '(paren)');
INSERT INTO pets VALUES (1, 1, 'cat'), (2, 2, 'dog');
GRANT SELECT, INSERT, UPDATE, DELETE ON people, pets TO web_anon;
-- inlined into the statement, so its plan shows the scan
CREATE FUNCTION top_people() RETURNS SETOF people LANGUAGE sql STABLE AS $$ SELECT * FROM people ORDER BY score DESC $$;
`

// The header is the first row's keys; CSV rows are PostgreSQL's record text without its parentheses, as
// PostgREST sends them: fields with spaces, commas, quotes, backslashes or
// parentheses are double-quoted (quotes doubled, backslashes doubled), an
// empty string is "", NULL is nothing, arrays keep their text form.
func TestClientsCSVQuoting(t *testing.T) {
	p := StartPgrest(t, NewDB(t, clientsCompatFixture), nil)
	r := p.Get("/people?select=id,name,labels,note&order=id", "Accept: text/csv").Expect(t, 200)
	want := "id,name,labels,note\n" +
		`1,Ann,"{a,b}","say ""hi"""` + "\n" +
		`2,"Bo Li",{},""` + "\n" +
		`3,"C,D",{x},` + "\n" +
		`4,"back\\slash","{""y z""}","(paren)"`
	if string(r.Body) != want {
		t.Fatalf("csv body:\n%s\nwant:\n%s", r.Body, want)
	}
	// no row: no header either, a lone newline; a row of NULLs has one
	if r = p.Get("/people?select=id,name&id=eq.99", "Accept: text/csv").Expect(t, 200); string(r.Body) != "\n" {
		t.Fatalf("empty csv: %q", r.Body)
	}
	if r = p.Get("/people?select=note&id=eq.3", "Accept: text/csv").Expect(t, 200); string(r.Body) != "note\n" {
		t.Fatalf("csv of a NULL: %q", r.Body)
	}
	// an embedded resource is a json field, quoted like any other
	r = p.Get("/pets?select=kind,people(name)&id=eq.1", "Accept: text/csv").Expect(t, 200)
	if got := string(r.Body); got != `kind,people`+"\n"+`cat,"{""name"": ""Ann""}"` {
		t.Fatalf("csv with embed: %s", got)
	}
}

// What postgrest-js sends for insert(rows, {defaultToNull: false}): the
// columns parameter and Prefer: missing=default; a key missing from one
// row takes the column default, not NULL.
func TestClientsBulkInsertMissingDefault(t *testing.T) {
	p := StartPgrest(t, NewDB(t, clientsCompatFixture), nil)
	r := p.Do("POST", `/people?columns="id","name","score"&select=id,score,labels`,
		`[{"id":10,"name":"x","score":5},{"id":11,"name":"y"}]`,
		"Content-Type: application/json", "Prefer: return=representation,count=exact,missing=default")
	r.Expect(t, 201).JSONEq(t, `[{"id":10,"score":5,"labels":[]},{"id":11,"score":10,"labels":[]}]`)
	header(t, r, "Content-Range", "*/2")
	// without missing=default the missing key is NULL, and NOT NULL refuses it
	p.Do("POST", `/people?columns="id","name","score"`, `[{"id":12,"name":"x","score":5},{"id":13,"name":"y"}]`,
		"Content-Type: application/json").ExpectError(t, 400, "23502")
}

// Embedding by the foreign key column's name, and a self-referencing table
// without a hint: the table's name is the children (O2M), the column's
// name the parent (M2O), as PostgREST disambiguates them.
func TestClientsEmbedByColumnAndSelf(t *testing.T) {
	p := StartPgrest(t, NewDB(t, clientsCompatFixture), nil)
	p.Get("/pets?select=id,owner_id(name)&order=id").Expect(t, 200).
		JSONEq(t, `[{"id":1,"owner_id":{"name":"Ann"}},{"id":2,"owner_id":{"name":"Bo Li"}}]`)
	p.Get("/people?select=name,people(id)&id=eq.1&people.order=id").Expect(t, 200).
		JSONEq(t, `[{"name":"Ann","people":[{"id":2},{"id":3}]}]`)
	p.Get("/people?select=name,boss:boss_id(name)&id=eq.4").Expect(t, 200).
		JSONEq(t, `[{"name":"back\\slash","boss":{"name":"Bo Li"}}]`)
	p.Get("/people?select=name,people!boss_id(id)&id=eq.2").Expect(t, 200).
		JSONEq(t, `[{"name":"Bo Li","people":[{"id":4}]}]`)
}

// explain() asks for the plan of the whole statement PostgREST runs, the
// aggregate that builds the body included.
func TestClientsExplainWholeStatement(t *testing.T) {
	p := StartPgrest(t, NewDB(t, clientsCompatFixture), func(c *config.Config) { c.DBPlanEnabled = true })
	r := p.Get("/people?select=name,pets(kind)&id=eq.1",
		`Accept: application/vnd.pgrst.plan+text; for="application/json"; options=;`).Expect(t, 200)
	body := string(r.Body)
	if !strings.HasPrefix(body, "Aggregate") || !strings.Contains(body, "people") || !strings.Contains(body, "pets") {
		t.Fatalf("plan: %s", body)
	}
	r = p.Do("PATCH", "/people?id=eq.1", `{"score":9}`, "Content-Type: application/json",
		`Accept: application/vnd.pgrst.plan+json; for="application/json"; options=analyze;`).Expect(t, 200)
	if !strings.Contains(string(r.Body), `"Operation": "Update"`) || !strings.Contains(string(r.Body), `"Node Type": "Aggregate"`) {
		t.Fatalf("plan of an update: %s", r.Body)
	}
	r = p.Get("/rpc/top_people?select=name", `Accept: application/vnd.pgrst.plan+text; for="application/json"`).Expect(t, 200)
	if body := string(r.Body); !strings.HasPrefix(body, "Aggregate") || !strings.Contains(body, "on people") {
		t.Fatalf("plan of a call: %s", body)
	}
}
