package integration

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/pgrest/pgrest/server/config"
)

// A batch that commits in the round trip of its statements checks, inside
// each statement, that the response settings are still empty and the
// search path still the operation's own. A function that moves the search
// path must not leave the next operation resolving names elsewhere.

const batchGuardFixture = batchSettingsFixture + `
CREATE FUNCTION api.wander() RETURNS text LANGUAGE sql VOLATILE
  AS $$ SELECT set_config('search_path', 'pg_catalog', true) $$;
CREATE FUNCTION api.wander_later() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM set_config('search_path', 'pg_catalog', true); RETURN NULL; END $$;
CREATE TABLE api.trail (id serial PRIMARY KEY, note text);
CREATE TRIGGER trail_after AFTER INSERT ON api.trail FOR EACH ROW EXECUTE FUNCTION api.wander_later();
GRANT EXECUTE ON FUNCTION api.wander(), api.wander_later() TO test_user;
GRANT SELECT, INSERT ON api.trail TO test_user;
CREATE FUNCTION api.fail() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'boom' USING ERRCODE = 'P0001'; END $$;
CREATE VIEW api.boom AS SELECT api.fail() AS x;
GRANT SELECT ON api.boom TO test_user;
GRANT EXECUTE ON FUNCTION api.fail() TO test_user;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA api TO test_user;
`

func TestBatchGuardSearchPath(t *testing.T) {
	db := NewDB(t, batchGuardFixture)
	p := startBatch(t, db, nil)
	user := bearer(t, "test_user")
	for i := 0; i < 2; i++ { // the second time with every statement prepared
		for _, moving := range []string{
			`{"method": "POST", "path": "/rpc/wander"}`,                                   // in the statement
			`{"method": "POST", "path": "/trail", "body": {"note": "x"}}`,                 // after it, in a trigger
			`{"method": "GET", "path": "/sp"}, {"method": "POST", "path": "/rpc/wander"}`, // after a read
		} {
			res := batchResults(t, p.batch(t, `[
			  {"method": "POST", "path": "/orders", "body": {"customer": "c"}},
			  `+moving+`,
			  {"method": "GET", "path": "/sp"}]`, user))
			var rows []struct{ Sp string }
			last := res[len(res)-1]
			if err := json.Unmarshal(last.Body, &rows); err != nil || len(rows) != 1 || rows[0].Sp != `"api", "public"` {
				t.Fatalf("after %s: search path %s, want the operation's own", moving, last.Body)
			}
		}
	}
	if got := scalar(t, db, "SELECT count(*) FROM api.orders"); got != "6" {
		t.Fatalf("%s orders committed, want 6", got)
	}
}

// Consecutive reads go to the server in one round trip, after a write or
// not. What one of them does is still its own: its error names it, its
// rows and its response settings answer it alone.
func TestBatchConsecutiveReads(t *testing.T) {
	db := NewDB(t, batchGuardFixture)
	p := startBatch(t, db, func(c *config.Config) { c.DBSchemas = []string{"api", "api2"} })
	user := bearer(t, "test_user")
	SQL(t, db, `INSERT INTO api.orders (customer, owner) VALUES ('a', 'test_user'), ('b', 'test_user'), ('c', 'other_user')`)
	for _, write := range []string{"", `{"method": "POST", "path": "/orders", "body": {"customer": "d"}}, `} {
		for i := 0; i < 2; i++ {
			// The failing read is the second of three, read-only or not.
			batchError(t, p.batch(t, `[`+write+`{"method": "GET", "path": "/orders?select=customer"},
			  {"method": "GET", "path": "/boom"},
			  {"method": "GET", "path": "/sp"}]`, user), 400, "P0001", 1+strings.Count(write, "POST"))
			res := batchResults(t, p.batch(t, `[`+write+`{"method": "GET", "path": "/orders?select=customer&customer=in.(a,b)&order=customer"},
			  {"method": "GET", "path": "/orders?select=customer&customer=eq.b", "headers": {"Accept": "application/vnd.pgrst.object+json"}},
			  {"method": "GET", "path": "/flagged"},
			  {"method": "GET", "path": "/seen"},
			  {"method": "HEAD", "path": "/orders?customer=eq.a", "headers": {"Prefer": "count=exact"}},
			  {"method": "GET", "path": "/orders?select=customer&customer=eq.a"}]`, user))
			res = res[len(res)-6:]
			jsonEq(t, res[0].Body, `[{"customer":"a"},{"customer":"b"}]`)
			jsonEq(t, res[1].Body, `{"customer":"b"}`)
			if res[2].Headers["X-Flag"] != "1" || res[3].Headers["X-Flag"] != "" || res[5].Headers["X-Flag"] != "" {
				t.Fatalf("response headers leaked: %+v", res)
			}
			jsonEq(t, res[3].Body, `[{"h":""}]`)
			if res[4].Headers["Content-Range"] != "0-0/1" || string(res[4].Body) != "null" {
				t.Fatalf("HEAD answer %+v", res[4])
			}
			jsonEq(t, res[5].Body, `[{"customer":"a"}]`)
		}
	}
}
