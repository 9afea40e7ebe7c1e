package integration

import (
	"encoding/json"
	"testing"
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
