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
