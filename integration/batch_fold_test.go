package integration

import (
	"testing"
)

// A batch that writes commits in the round trip of its last operations
// when no answer can turn out an error afterwards; a guard stops that
// COMMIT when an operation's SQL sets response settings, and the batch
// runs again committing on its own. Either way: all or nothing.

const batchFoldFixture = batchFixture + `
CREATE FUNCTION api.refuse() RETURNS text LANGUAGE sql
  AS $$ SELECT set_config('response.status', '409', true); SELECT 'no' $$;
CREATE TABLE api.notes (
  id serial PRIMARY KEY,
  body text NOT NULL,
  order_id int REFERENCES api.orders(id) DEFERRABLE INITIALLY DEFERRED
);
CREATE FUNCTION api.notes_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.body = 'refuse' THEN PERFORM set_config('response.status', '418', true); END IF;
  IF NEW.body IN ('tag', 'late') THEN PERFORM set_config('response.headers', '[{"X-Tag": "1"}]', true); END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER notes_before BEFORE INSERT ON api.notes FOR EACH ROW WHEN (NEW.body <> 'late') EXECUTE FUNCTION api.notes_status();
CREATE TRIGGER notes_after AFTER INSERT ON api.notes FOR EACH ROW WHEN (NEW.body = 'late') EXECUTE FUNCTION api.notes_status();
GRANT SELECT, INSERT ON api.notes TO test_user;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA api TO test_user;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA api TO test_user;
`

func TestBatchFoldedCommit(t *testing.T) {
	db := NewDB(t, batchFoldFixture)
	p := startBatch(t, db, nil)
	user := bearer(t, "test_user")
	order := `{"method": "POST", "path": "/orders", "body": {"customer": "c"}}`
	note := func(body string) string {
		return `{"method": "POST", "path": "/notes", "body": {"body": "` + body + `"}}`
	}
	count := func(table string) string { return scalar(t, db, "SELECT count(*) FROM "+table) }
	for i := 0; i < 2; i++ { // the second time with every statement prepared
		// A status a function sets answers its operation.
		res := batchResults(t, p.batch(t, `[`+order+`, {"method": "POST", "path": "/rpc/accepted"}, {"method": "GET", "path": "/orders?select=customer&limit=1"}]`, user))
		if res[0].Status != 201 || res[1].Status != 202 || res[2].Status != 200 {
			t.Fatalf("statuses %d %d %d", res[0].Status, res[1].Status, res[2].Status)
		}
		// An error status a function or a trigger sets fails the batch, and
		// rolls back what came before.
		p.batch(t, `[`+order+`, {"method": "POST", "path": "/rpc/refuse"}]`, user).Expect(t, 409)
		p.batch(t, `[`+order+`, `+note("refuse")+`, `+note("plain")+`]`, user).Expect(t, 418)
		// Headers a trigger sets answer its operation only; set after the
		// row is written, they answer none, as alone.
		res = batchResults(t, p.batch(t, `[`+note("tag")+`, `+note("late")+`, `+note("plain")+`]`, user))
		if res[0].Headers["X-Tag"] != "1" || res[1].Headers["X-Tag"] != "" || res[2].Headers["X-Tag"] != "" {
			t.Fatalf("trigger headers: %+v", res)
		}
		// A deferred constraint fails at COMMIT: the batch's own error.
		batchError(t, p.batch(t, `[`+order+`, {"method": "POST", "path": "/notes", "body": {"body": "x", "order_id": 999}}]`, user), 409, "23503", -1)
	}
	if o, n := count("orders"), count("notes"); o != "2" || n != "6" {
		t.Fatalf("%s orders, %s notes committed", o, n)
	}
}

// A database whose default isolation is not READ COMMITTED: the batch
// that would have gone without BEGIN is refused by PostgreSQL before
// anything ran, and runs again with BEGIN, as before.
func TestBatchFoldedDefaultIsolation(t *testing.T) {
	db := NewDB(t, batchFoldFixture+`
CREATE VIEW api.iso AS SELECT current_setting('transaction_isolation') AS iso;
GRANT SELECT ON api.iso TO test_user;`)
	SQL(t, db, `ALTER DATABASE `+db+` SET default_transaction_isolation = 'serializable'`)
	p := startBatch(t, db, nil)
	user := bearer(t, "test_user")
	for i := 0; i < 3; i++ {
		res := batchResults(t, p.batch(t, `[{"method": "GET", "path": "/iso"}, {"method": "POST", "path": "/orders", "body": {"customer": "c"}}]`, user))
		jsonEq(t, res[0].Body, `[{"iso":"read committed"}]`)
		res = batchResults(t, p.batch(t, `[{"method": "GET", "path": "/iso"}, {"method": "GET", "path": "/iso"}]`, user))
		jsonEq(t, res[1].Body, `[{"iso":"read committed"}]`)
	}
	if n := scalar(t, db, "SELECT count(*) FROM orders"); n != "3" {
		t.Fatalf("%s orders", n)
	}
}

// With references the batch runs in several round trips; the last one
// commits, and starts from no response settings whatever the one before
// it left.
func TestBatchFoldedAfterReferences(t *testing.T) {
	db := NewDB(t, batchFoldFixture)
	p := startBatch(t, db, nil)
	user := bearer(t, "test_user")
	for i := 0; i < 2; i++ {
		res := batchResults(t, p.batch(t, `[
		  {"method": "POST", "path": "/rpc/accepted"},
		  {"method": "POST", "path": "/orders", "headers": {"Prefer": "return=representation"}, "body": {"customer": {"$ref": "/0/status"}}},
		  {"method": "GET", "path": "/orders?select=customer&id=eq.${/1/body/0/id}"}]`, user))
		if res[0].Status != 202 || res[1].Status != 201 || res[2].Status != 200 {
			t.Fatalf("statuses %d %d %d", res[0].Status, res[1].Status, res[2].Status)
		}
		jsonEq(t, res[2].Body, `[{"customer":"202"}]`)
	}
	if n := scalar(t, db, "SELECT count(*) FROM orders WHERE customer = '202'"); n != "2" {
		t.Fatalf("%s orders", n)
	}
}
