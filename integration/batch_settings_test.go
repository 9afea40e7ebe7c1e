package integration

import (
	"encoding/json"
	"testing"

	"github.com/pgrest/pgrest/server/config"
)

// A batch sends an operation's settings only when the transaction does not
// hold them already; these check each operation still sees what it would
// alone: its schema's search path, and no response settings of another.

const batchSettingsFixture = batchFixture + `
CREATE SCHEMA api2;
CREATE VIEW api.sp AS SELECT current_setting('search_path') AS sp;
CREATE VIEW api2.sp AS SELECT current_setting('search_path') AS sp;
CREATE FUNCTION api.flag() RETURNS int LANGUAGE sql VOLATILE
  AS $$ SELECT set_config('response.headers', '[{"X-Flag": "1"}]', true); SELECT 1 $$;
CREATE VIEW api.flagged AS SELECT api.flag() AS f;
CREATE VIEW api.seen AS SELECT current_setting('response.headers', true) AS h;
GRANT USAGE ON SCHEMA api2 TO test_user;
GRANT SELECT ON api.sp, api2.sp, api.flagged, api.seen TO test_user;
GRANT EXECUTE ON FUNCTION api.flag() TO test_user;
`

// Every operation reads with its own schema first on the search path,
// whichever schema the operation before it used.
func TestBatchSearchPathPerOperation(t *testing.T) {
	db := NewDB(t, batchSettingsFixture)
	p := startBatch(t, db, func(c *config.Config) { c.DBSchemas = []string{"api", "api2"} })
	res := batchResults(t, p.batch(t, `[
	  {"method": "GET", "path": "/sp"},
	  {"method": "GET", "path": "/sp", "headers": {"Accept-Profile": "api2"}},
	  {"method": "GET", "path": "/sp", "headers": {"Accept-Profile": "api2"}},
	  {"method": "GET", "path": "/sp"},
	  {"method": "POST", "path": "/orders", "body": {"customer": "c"}},
	  {"method": "GET", "path": "/sp"}]`, bearer(t, "test_user")))
	for i, want := range []string{`"api", "public"`, `"api2", "public"`, `"api2", "public"`, `"api", "public"`, "", `"api", "public"`} {
		var rows []struct{ Sp string }
		if err := json.Unmarshal(res[i].Body, &rows); want != "" && (err != nil || len(rows) != 1 || rows[0].Sp != want) {
			t.Fatalf("operation %d: search path %s, want %s", i, res[i].Body, want)
		}
	}
}

// A read whose SQL sets response settings (here through a view) answers
// with them, and the operations after it do not see them, in the same
// round trip or the next.
func TestBatchReadSettingResponse(t *testing.T) {
	db := NewDB(t, batchSettingsFixture)
	p := startBatch(t, db, nil)
	user := bearer(t, "test_user")
	for i := 0; i < 2; i++ { // the second time with every statement prepared
		res := batchResults(t, p.batch(t, `[
		  {"method": "GET", "path": "/flagged"},
		  {"method": "GET", "path": "/seen"},
		  {"method": "GET", "path": "/orders"},
		  {"method": "GET", "path": "/flagged"},
		  {"method": "GET", "path": "/seen?h=is.null"},
		  {"method": "GET", "path": "/orders?id=eq.${/3/status}"},
		  {"method": "GET", "path": "/seen"}]`, user))
		for k, flagged := range []bool{true, false, false, true, false, false, false} {
			if got := res[k].Headers["X-Flag"] == "1"; got != flagged {
				t.Fatalf("run %d operation %d: X-Flag %v, want %v: %+v", i, k, got, flagged, res[k])
			}
		}
		for _, k := range []int{1, 6} {
			jsonEq(t, res[k].Body, `[{"h":""}]`)
		}
	}
}

// A batch of reads commits with its last statement; a failing read still
// answers its error with its index.
func TestBatchReadOnlyFailure(t *testing.T) {
	db := NewDB(t, batchSettingsFixture)
	SQL(t, db, `INSERT INTO api.orders (customer, owner) VALUES ('a', 'test_user')`)
	p := startBatch(t, db, func(c *config.Config) { c.DBPreRequest = "api.count_calls" })
	user := bearer(t, "test_user")
	ok := `{"method": "GET", "path": "/orders?select=customer"}`
	for i := 0; i < 2; i++ {
		res := batchResults(t, p.batch(t, `[`+ok+`, {"method": "GET", "path": "/rpc/calls"}, `+ok+`]`, user))
		jsonEq(t, res[0].Body, `[{"customer":"a"}]`)
		jsonEq(t, res[1].Body, `"1"`)
		if res[2].Headers["X-Pre"] != "yes" {
			t.Fatalf("pre-request headers missing: %+v", res[2])
		}
		batchError(t, p.batch(t, `[`+ok+`, `+ok+`, {"method": "GET", "path": "/orders?id=eq.99", "headers": {"Accept": "application/vnd.pgrst.object+json"}}]`, user), 406, "PGRST116", 2)
	}
}

// A function's hoisted settings (db-hoisted-tx-settings) hold for its own
// operation only: the operations after it see what they would alone, the
// server default or their role's setting.
func TestBatchHoistedSettingsPerOperation(t *testing.T) {
	db := NewDB(t, batchSettingsFixture+`
CREATE FUNCTION api.slow_ok() RETURNS text LANGUAGE sql STABLE SET statement_timeout = '1234ms'
  AS $$ SELECT current_setting('statement_timeout') $$;
CREATE FUNCTION api.timeout() RETURNS text LANGUAGE sql STABLE
  AS $$ SELECT current_setting('statement_timeout') $$;
CREATE VIEW api.timeouts AS SELECT current_setting('statement_timeout') AS t;
GRANT SELECT ON api.timeouts TO test_user, other_user;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA api TO test_user, other_user;
ALTER ROLE other_user SET statement_timeout = '4321ms';
`)
	p := startBatch(t, db, nil)
	const ops = `[
	  {"method": "GET", "path": "/rpc/timeout"},
	  {"method": "GET", "path": "/rpc/slow_ok"},
	  {"method": "GET", "path": "/rpc/timeout"},
	  {"method": "GET", "path": "/timeouts"},
	  {"method": "POST", "path": "/rpc/slow_ok"},
	  {"method": "GET", "path": "/timeouts"}]`
	for _, c := range []struct{ role, dflt string }{{"test_user", "0"}, {"other_user", "4321ms"}} {
		who := bearer(t, c.role)
		alone := p.Get("/rpc/timeout", who)
		alone.Expect(t, 200)
		jsonEq(t, alone.Body, `"`+c.dflt+`"`)
		for i := 0; i < 2; i++ { // the second time with every statement prepared
			res := batchResults(t, p.batch(t, ops, who))
			for k, want := range []string{`"` + c.dflt + `"`, `"1234ms"`, `"` + c.dflt + `"`, `[{"t":"` + c.dflt + `"}]`, `"1234ms"`, `[{"t":"` + c.dflt + `"}]`} {
				if string(res[k].Body) != want {
					t.Fatalf("%s run %d operation %d: %s, want %s", c.role, i, k, res[k].Body, want)
				}
			}
		}
	}
}
