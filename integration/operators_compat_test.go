package integration

import "testing"

// A small catalogue of notes: text, json and jsonb bodies, an int array,
// a composite and a tsvector, for the operators PostgREST applies through
// to_tsvector and to_jsonb.
const operatorsFixture = `
CREATE TYPE point2 AS (x numeric, y numeric);
CREATE TABLE notes (
  id int PRIMARY KEY,
  body text,
  meta jsonb,
  raw json,
  scores int[],
  grid int[],
  pos point2,
  doc tsvector
);
INSERT INTO notes VALUES
  (1, 'Cats chase mice in the garden', '{"title":"Cats chase mice"}', '{"title":"Cats chase mice"}', '{5,1}', '{{1,2},{3,4}}', '(0.5,1.5)', to_tsvector('english', 'cats chase mice')),
  (2, 'Dogs sleep all day long',       '{"title":"Dogs sleep"}',      '{"title":"Dogs sleep"}',      '{2,9}', '{{7,8},{9,6}}', '(2.5,0.1)', to_tsvector('english', 'dogs sleep'));
GRANT SELECT ON notes TO web_anon;
CREATE FUNCTION note_points() RETURNS TABLE (id int, p point2) LANGUAGE sql STABLE AS
  $$ SELECT id, pos FROM notes $$;
GRANT EXECUTE ON FUNCTION note_points() TO web_anon;
`

// Full-text operators on text, json and jsonb columns search
// to_tsvector(column) in the requested configuration.
func TestFullTextOnTextAndJSON(t *testing.T) {
	db := NewDB(t, operatorsFixture)
	p := StartPgrest(t, db, nil)
	for _, q := range []string{
		"body=fts.cats", "meta=fts.cats", "raw=fts.cats", "doc=fts.cats",
		"body=plfts(english).the%20cat", "meta=wfts.cats%20-dogs", "body=phfts(english).chase%20mice",
		"body=not.fts(english).dogs", "or=(meta.fts.nothing,meta.fts.cat:*)",
	} {
		p.Get("/notes?select=id&"+q).Expect(t, 200).JSONEq(t, `[{"id":1}]`)
	}
	// The configuration applies to the column too: English stems "sleeping" to "sleep".
	p.Get("/notes?select=id&body=fts(english).sleeping").Expect(t, 200).JSONEq(t, `[{"id":2}]`)
	p.Get("/notes?select=id&body=fts(simple).sleeping").Expect(t, 200).JSONEq(t, `[]`)
}

// Arrows on arrays and composites read the column as jsonb; an index as
// the last step names the output after the last key before it.
func TestArrowsOnArraysAndComposites(t *testing.T) {
	db := NewDB(t, operatorsFixture)
	p := StartPgrest(t, db, nil)
	p.Get("/notes?select=id&order=scores->0.desc").Expect(t, 200).JSONEq(t, `[{"id":1},{"id":2}]`)
	p.Get("/notes?select=id&order=grid->1->0.asc").Expect(t, 200).JSONEq(t, `[{"id":1},{"id":2}]`)
	p.Get("/notes?select=pos->x&order=id").Expect(t, 200).JSONEq(t, `[{"x":0.5},{"x":2.5}]`)
	p.Get("/notes?select=pos->>y&order=id").Expect(t, 200).JSONEq(t, `[{"y":"1.5"},{"y":"0.1"}]`)
	p.Get("/notes?select=id&pos->>x=gt.1").Expect(t, 200).JSONEq(t, `[{"id":2}]`)
	p.Get("/notes?select=scores->>1::int&order=id").Expect(t, 200).JSONEq(t, `[{"scores":1},{"scores":9}]`)
	p.Get("/notes?select=scores->>-1::int&order=id").Expect(t, 200).JSONEq(t, `[{"scores":1},{"scores":9}]`)
	p.Get("/notes?select=grid->1->>0&id=eq.2").Expect(t, 200).JSONEq(t, `[{"grid":"9"}]`)
	p.Get("/rpc/note_points?select=p->y&p->>x=lt.1").Expect(t, 200).JSONEq(t, `[{"y":1.5}]`)
	// Keys are untyped like PostgREST's literals, so PostgreSQL names them "unknown".
	e := p.Get("/notes?select=meta->>title->x").ExpectError(t, 404, "42883")
	if e["message"] != "operator does not exist: text -> unknown" {
		t.Fatalf("message: %v", e["message"])
	}
}

// Quoted names carry PostgREST's reserved characters; JSON keys refuse
// them unquoted; logic trees allow blanks; parse errors are worded like
// PostgREST's parser.
func TestGrammarCompat(t *testing.T) {
	db := NewDB(t, operatorsFixture+`
CREATE TABLE odd (id int, "x->y::z" text, "(a,b)" text, "d.o.t" text);
INSERT INTO odd VALUES (1, 'arrow', 'paren', 'dot'), (2, 'two', 'two', 'two');
GRANT SELECT ON odd TO web_anon;`)
	p := StartPgrest(t, db, nil)
	p.Get(`/odd?select="x->y::z","(a,b)",dotted:"d.o.t"&"d.o.t"=eq.dot`).Expect(t, 200).
		JSONEq(t, `[{"x->y::z":"arrow","(a,b)":"paren","dotted":"dot"}]`)
	p.Get(`/notes?select=meta->"a(b)"&id=eq.1`).Expect(t, 200).JSONEq(t, `[{"a(b)":null}]`)
	e := p.Get("/notes?select=id,meta->(x").ExpectError(t, 400, "PGRST100")
	if e["message"] != `"failed to parse select parameter (id,meta->(x)" (line 1, column 10)` ||
		e["details"] != `unexpected "(" expecting "-", digit or any non reserved character different from: .,>()` {
		t.Fatalf("bad key: %v", e)
	}
	p.Get("/notes?select=id&and=(%20or%20(%20id.eq.1%20,%20id.eq.2%20)%20,%20id.in.(%201,%203%20)%20)").Expect(t, 200).JSONEq(t, `[{"id":1}]`)
	e = p.Get("/notes?and=()").ExpectError(t, 400, "PGRST100")
	if e["message"] != `"failed to parse logic tree (())" (line 1, column 5)` {
		t.Fatalf("empty and: %v", e)
	}
	e = p.Get("/notes?id=1").ExpectError(t, 400, "PGRST100")
	if e["details"] != `unexpected "1" expecting "not" or operator (eq, gt, ...)` {
		t.Fatalf("no operator: %v", e)
	}
	e = p.Get("/notes?limit=-1").ExpectError(t, 416, "PGRST103")
	if e["details"] != "Limit should be greater than or equal to zero." {
		t.Fatalf("negative limit: %v", e)
	}
	p.Get("/notes?select=id&order=id&limit=x&offset=-3").Expect(t, 200).JSONEq(t, `[{"id":1},{"id":2}]`)
	e = p.Do("POST", "/notes?columns=", `{"id":3}`, "Content-Type: application/json").ExpectError(t, 400, "PGRST100")
	if e["message"] != `"failed to parse columns parameter ()" (line 1, column 1)` ||
		e["details"] != "unexpected end of input expecting field name (* or [a..z0..9_$])" {
		t.Fatalf("blank columns: %v", e)
	}
	e = p.Do("POST", "/notes?on_conflict=id,,body", `{"id":3}`, "Content-Type: application/json").ExpectError(t, 400, "PGRST100")
	if e["message"] != `"failed to parse on_conflict parameter (id,,body)" (line 1, column 4)` {
		t.Fatalf("empty on_conflict name: %v", e)
	}
}

// A tsvector under domains over domains is searched as it is, without
// to_tsvector.
func TestFullTextOnNestedTsvectorDomain(t *testing.T) {
	db := NewDB(t, `
CREATE DOMAIN tsv1 AS tsvector CHECK (VALUE <> '');
CREATE DOMAIN tsv2 AS tsv1;
CREATE TABLE docs (id int, words tsv2);
INSERT INTO docs VALUES (1, to_tsvector('simple', 'red fox')), (2, to_tsvector('simple', 'blue whale'));
GRANT SELECT ON docs TO web_anon;`)
	p := StartPgrest(t, db, nil)
	p.Get("/docs?select=id&words=fts(simple).fox").Expect(t, 200).JSONEq(t, `[{"id":1}]`)
	p.Get("/docs?select=id&words=phfts(simple).blue%20whale").Expect(t, 200).JSONEq(t, `[{"id":2}]`)
}
