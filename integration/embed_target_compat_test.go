package integration

import (
	"strings"
	"testing"

	"github.com/pgrest/pgrest/server/config"
)

const embedTargetFixture = `
CREATE TABLE towns (id int PRIMARY KEY, name text);
CREATE TABLE mayors (id int PRIMARY KEY, town_id int UNIQUE REFERENCES towns, name text);
INSERT INTO towns VALUES (1, 'Ash'), (2, 'Elm');
INSERT INTO mayors VALUES (10, 1, 'Ada'), (20, 2, 'Bo');
CREATE VIEW big_towns AS SELECT * FROM towns;
-- a computed relationship to the same table: named by its function only
CREATE FUNCTION twin_town(mayors) RETURNS SETOF towns ROWS 1 LANGUAGE sql STABLE AS
  $$ SELECT * FROM towns WHERE id <> $1.town_id $$;
GRANT SELECT ON towns, mayors, big_towns TO web_anon;
`

// An embed names a foreign key's target, its constraint or its one column
// (tables only, never views); a computed relationship only by its function.
func TestEmbedTargets(t *testing.T) {
	db := NewDB(t, embedTargetFixture)
	p := StartPgrest(t, db, nil)
	p.Get("/mayors?select=name,towns(name)&order=id").Expect(t, 200).
		JSONEq(t, `[{"name":"Ada","towns":{"name":"Ash"}},{"name":"Bo","towns":{"name":"Elm"}}]`)
	p.Get("/mayors?select=name,twin_town(name)&order=id").Expect(t, 200).
		JSONEq(t, `[{"name":"Ada","twin_town":{"name":"Elm"}},{"name":"Bo","twin_town":{"name":"Ash"}}]`)
	p.Get("/mayors?select=name,town_id(name)&id=eq.10").Expect(t, 200).
		JSONEq(t, `[{"name":"Ada","town_id":{"name":"Ash"}}]`)
	p.Get("/towns?select=name,id(name)&name=eq.Elm").Expect(t, 200).
		JSONEq(t, `[{"name":"Elm","id":{"name":"Bo"}}]`)
	p.Get("/mayors?select=name,mayors_town_id_fkey(name)&id=eq.20").Expect(t, 200).
		JSONEq(t, `[{"name":"Bo","mayors_town_id_fkey":{"name":"Elm"}}]`)
	// the column names the table's relationship, not the view's as well
	p.Get("/mayors?select=name,big_towns(name)&id=eq.20").Expect(t, 200).
		JSONEq(t, `[{"name":"Bo","big_towns":{"name":"Elm"}}]`)
}

// An aliased embed may be named by its relation in filters, orders and
// limits unless url-use-legacy-target-names is off.
func TestAliasedEmbedTargetNames(t *testing.T) {
	db := NewDB(t, embedTargetFixture)
	p := StartPgrest(t, db, nil)
	r := p.Get("/towns?select=name,boss:mayors(name)&mayors.name=eq.Bo&order=id").Expect(t, 200)
	r.JSONEq(t, `[{"name":"Ash","boss":null},{"name":"Elm","boss":{"name":"Bo"}}]`)
	if w := r.Header.Get("Warning"); !strings.HasPrefix(w, "299 PostgRESTv") ||
		!strings.HasSuffix(w, " \"Embedded resource was referenced by relation name even though it has an alias. This is deprecated and will stop working in a future release. Update `mayors` to `boss` in query string filters, orders or limits.\"") {
		t.Fatalf("Warning %q", w)
	}
	strict := StartPgrest(t, db, func(c *config.Config) { c.URLUseLegacyTargetNames = false })
	e := strict.Get("/towns?select=name,boss:mayors(name)&mayors.name=eq.Bo").ExpectError(t, 400, "PGRST108")
	if e["details"] != "Target names are not allowed in filters if they have an alias" ||
		e["hint"] != "Change 'mayors' to 'boss' in filters, orders or limits." {
		t.Fatalf("strict: %v", e)
	}
	strict.Get("/towns?select=name,boss:mayors(name)&boss.name=eq.Bo&order=id").Expect(t, 200).
		JSONEq(t, `[{"name":"Ash","boss":null},{"name":"Elm","boss":{"name":"Bo"}}]`)
}

// rel=[not.]is.null tests an embed's rows in logic trees too; other
// operators on an embed's name filter the column of that name.
func TestEmbedNullFiltersInLogic(t *testing.T) {
	db := NewDB(t, embedTargetFixture+`
CREATE TABLE streets (id int PRIMARY KEY, town_id int REFERENCES towns, name text);
INSERT INTO streets VALUES (1, 1, 'Main'), (2, 2, 'Oak');
INSERT INTO towns VALUES (3, 'Fir');
GRANT SELECT ON streets TO web_anon;`)
	p := StartPgrest(t, db, nil)
	p.Get("/towns?select=name,mayors(),streets()&mayors.name=eq.Ada&streets.name=eq.Oak&or=(mayors.not.is.null,streets.not.is.null)&order=id").
		Expect(t, 200).JSONEq(t, `[{"name":"Ash"},{"name":"Elm"}]`)
	p.Get("/towns?select=name,mayors()&not.or=(mayors.not.is.null,id.eq.1)").Expect(t, 200).JSONEq(t, `[{"name":"Fir"}]`)
	// a column sharing the embed's name
	p.Get("/mayors?select=name,town_id(name)&town_id=eq.2").Expect(t, 200).JSONEq(t, `[{"name":"Bo","town_id":{"name":"Elm"}}]`)
	e := p.Get("/towns?select=*,ways:streets(*)&order=ways(name)").ExpectError(t, 400, "PGRST118")
	if e["message"] != "A related order on 'ways' is not possible" {
		t.Fatalf("related order: %v", e)
	}
}
