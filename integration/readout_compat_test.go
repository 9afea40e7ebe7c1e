package integration

import (
	"testing"

	"github.com/pgrest/pgrest/server/config"
)

const readoutFixture = `
CREATE SCHEMA shop;
CREATE SCHEMA depot;
CREATE TABLE shop.parts (id int PRIMARY KEY, label text, note text);
INSERT INTO shop.parts VALUES (1, 'bolt', NULL), (2, NULL, 'spare');
GRANT USAGE ON SCHEMA shop, depot TO web_anon;
GRANT SELECT ON shop.parts TO web_anon;
`

// nulls=stripped answers with PostgREST's exact Content-Type and drops
// null members; a singular request that finds many rows says so.
func TestNullsStrippedOutput(t *testing.T) {
	db := NewDB(t, readoutFixture)
	p := StartPgrest(t, db, func(c *config.Config) { c.DBSchemas = []string{"shop", "depot"} })
	r := p.Get("/parts?order=id", "Accept: application/vnd.pgrst.array+json;nulls=stripped").Expect(t, 200)
	if ct := r.Header.Get("Content-Type"); ct != "application/vnd.pgrst.array+json;nulls=stripped; charset=utf-8" {
		t.Fatalf("Content-Type %q", ct)
	}
	r.JSONEq(t, `[{"id":1,"label":"bolt"},{"id":2,"note":"spare"}]`)
	r = p.Get("/parts?id=eq.2", "Accept: application/vnd.pgrst.object+json;nulls=stripped").Expect(t, 200)
	if ct := r.Header.Get("Content-Type"); ct != "application/vnd.pgrst.object+json;nulls=stripped; charset=utf-8" {
		t.Fatalf("Content-Type %q", ct)
	}
	r.JSONEq(t, `{"id":2,"note":"spare"}`)
	e := p.Get("/parts", "Accept: application/vnd.pgrst.object+json;nulls=stripped").ExpectError(t, 406, "PGRST116")
	if e["message"] != "Cannot coerce the result to a single JSON object" || e["details"] != "The result contains 2 rows" {
		t.Fatalf("error %v", e)
	}
	// An unknown profile names the schema and lists the exposed ones in the hint.
	e = p.Get("/parts", "Accept-Profile: nowhere").ExpectError(t, 406, "PGRST106")
	if e["message"] != "Invalid schema: nowhere" || e["hint"] != "Only the following schemas are exposed: shop, depot" {
		t.Fatalf("error %v", e)
	}
}
