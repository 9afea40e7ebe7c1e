package integration

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
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

const limitedFixture = `
CREATE TABLE crews (id int PRIMARY KEY, name text);
CREATE TABLE hands (id int PRIMARY KEY, crew_id int REFERENCES crews, name text);
INSERT INTO crews VALUES (1, 'north'), (2, 'south'), (3, 'east');
INSERT INTO hands VALUES (1, 1, 'ann'), (2, 1, 'bob'), (3, 1, 'cy'), (4, 2, 'di'), (5, 2, 'ed'), (6, 2, 'fay');
GRANT SELECT, DELETE ON crews, hands TO web_anon;
`

// db-max-rows caps every level of a read but not what a write returns;
// count=estimated counts exactly up to it.
func TestMaxRowsEveryLevel(t *testing.T) {
	db := NewDB(t, limitedFixture)
	p := StartPgrest(t, db, func(c *config.Config) { n := int64(2); c.DBMaxRows = &n })
	p.Get("/crews?select=id,hands(id)&order=id&hands.order=id").Expect(t, 200).
		JSONEq(t, `[{"id":1,"hands":[{"id":1},{"id":2}]},{"id":2,"hands":[{"id":4},{"id":5}]}]`)
	r := p.Get("/hands?id=lt.3", "Prefer: count=estimated").Expect(t, 200)
	if cr := r.Header.Get("Content-Range"); cr != "0-1/2" {
		t.Fatalf("Content-Range %q", cr)
	}
	// Past db-max-rows the larger of the capped count and the plan's guess.
	r = p.Get("/hands?crew_id=eq.1", "Prefer: count=estimated").Expect(t, 206)
	var total int
	if _, err := fmt.Sscanf(r.Header.Get("Content-Range"), "0-1/%d", &total); err != nil || total < 3 {
		t.Fatalf("Content-Range %q", r.Header.Get("Content-Range"))
	}
	p.Do("DELETE", "/hands?crew_id=eq.2&select=name&order=name.desc", "", "Prefer: return=representation").Expect(t, 200).
		JSONEq(t, `[{"name":"fay"},{"name":"ed"},{"name":"di"}]`)
}

// Reads name their canonical location; embeds that select only empty
// embeds vanish from the output but still filter.
func TestCanonicalLocationAndEmptyEmbeds(t *testing.T) {
	db := NewDB(t, limitedFixture)
	p := StartPgrest(t, db, nil)
	r := p.Get("/hands?select=id&order=id&crew_id=eq.1&id=in.(1,%202)").Expect(t, 200)
	if loc := r.Header.Get("Content-Location"); loc != "/hands?crew_id=eq.1&id=in.%281%2C%202%29&order=id&select=id" {
		t.Fatalf("Content-Location %q", loc)
	}
	// HEAD answers the same headers without a body or a Content-Length,
	// and (only GET reads it) ignores a Range header
	r = p.Do("HEAD", "/hands?select=id&order=id&crew_id=eq.1&id=in.(1,%202)", "", "Range: 1-1").Expect(t, 200)
	if cl := r.Header.Get("Content-Length"); cl != "" || len(r.Body) != 0 || r.Header.Get("Content-Range") != "0-1/*" {
		t.Fatalf("HEAD: Content-Length %q, Content-Range %q, body %q", cl, r.Header.Get("Content-Range"), r.Body)
	}
	p.Get("/crews?select=name,hands!inner(crews())&order=id").Expect(t, 200).
		JSONEq(t, `[{"name":"north"},{"name":"south"}]`)
	p.Get("/crews?select=name,hands(crews(hands()))&id=eq.1").Expect(t, 200).JSONEq(t, `[{"name":"north"}]`)
}

// A request target without its leading slash reads the same resource, as
// PostgREST's server takes it.
func TestTargetWithoutLeadingSlash(t *testing.T) {
	db := NewDB(t, limitedFixture)
	p := StartPgrest(t, db, nil)
	conn, err := net.Dial("tcp", strings.TrimPrefix(p.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "GET crews?select=id&id=eq.2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || string(body) != `[{"id":2}]` {
		t.Fatalf("%d %s", res.StatusCode, body)
	}
}

// Preference-Applied lists what was honoured in PostgREST's order; reads
// and calls name count, tx (when it may be overridden), handling and
// timezone.
func TestPreferenceAppliedOnReads(t *testing.T) {
	db := NewDB(t, limitedFixture)
	p := StartPgrest(t, db, func(c *config.Config) { c.DBTxEnd = "rollback-allow-override" })
	r := p.Get("/crews?select=id", "Prefer: timezone=UTC, tx=commit, handling=lenient, count=exact, return=representation").Expect(t, 200)
	if got := r.Header.Get("Preference-Applied"); got != "count=exact, tx=commit, handling=lenient, timezone=UTC" {
		t.Fatalf("Preference-Applied = %q", got)
	}
}

// A view's key is the keys of the tables it shows whole: it locates the
// rows it creates (is.null for a null part) and allows PUT.
func TestViewKeysFromTables(t *testing.T) {
	db := NewDB(t, limitedFixture+`
CREATE VIEW crew_hands AS SELECT c.id, h.id AS hand_id, c.name FROM crews c LEFT JOIN hands h ON h.crew_id = c.id AND false;
CREATE RULE crew_hands_ins AS ON INSERT TO crew_hands DO INSTEAD
  INSERT INTO crews VALUES (new.id, new.name) RETURNING id, NULL::int, name;
CREATE VIEW crews_v AS SELECT * FROM crews;
GRANT SELECT, INSERT ON crew_hands TO web_anon;
GRANT SELECT, INSERT, UPDATE, DELETE ON crews_v, crews TO web_anon;`)
	p := StartPgrest(t, db, nil)
	r := p.Do("POST", "/crew_hands", `{"id":8,"name":"east-2"}`, "Content-Type: application/json", "Prefer: return=headers-only").Expect(t, 201)
	if loc := r.Header.Get("Location"); loc != "/crew_hands?id=eq.8&hand_id=is.null" {
		t.Fatalf("Location %q", loc)
	}
	if allow := p.Do("OPTIONS", "/crews_v", "").Expect(t, 200).Header.Get("Allow"); allow != "OPTIONS,GET,HEAD,POST,PUT,PATCH,DELETE" {
		t.Fatalf("Allow %q", allow)
	}
}

// OPTIONS checks the token like any request (its timing: edge_compat_test.go).
func TestOptionsAuthenticates(t *testing.T) {
	p := StartPgrest(t, NewDB(t, limitedFixture), nil)
	p.Do("OPTIONS", "/crews", "", "Authorization: Bearer not-a-token").ExpectError(t, 401, "PGRST301")
}
