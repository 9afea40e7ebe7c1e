package integration

import (
	"testing"
	"time"

	"github.com/pgrest/pgrest/server/config"
)

// C2: in-database configuration: pgrst.* role settings of the
// authenticator and db-pre-config, read at start and on 'reload config'.
func TestInDatabaseConfig(t *testing.T) {
	db := NewDB(t, `
CREATE TABLE items (id int);
INSERT INTO items SELECT generate_series(1, 5);
CREATE SCHEMA api;
CREATE TABLE api.things (name text);
INSERT INTO api.things VALUES ('in api');
GRANT USAGE ON SCHEMA api TO web_anon;
GRANT SELECT ON items, api.things TO web_anon;
`)
	// Scoped to this database: the role is shared by every test database.
	SQL(t, db, `ALTER ROLE authenticator IN DATABASE "`+db+`" SET pgrst.db_max_rows = '2'`)
	t.Cleanup(func() { SQL(t, db, `ALTER ROLE authenticator IN DATABASE "`+db+`" RESET ALL`) })
	p := StartPgrest(t, db, nil)
	rows := func(path string) int {
		t.Helper()
		return len(p.Get(path).Expect(t, 200).JSON(t).([]any))
	}
	if n := rows("/items"); n != 2 {
		t.Fatalf("db_max_rows from the role: got %d rows", n)
	}
	// a change takes effect on NOTIFY 'reload config'; db-schemas reloads the schema cache
	SQL(t, db, `ALTER ROLE authenticator IN DATABASE "`+db+`" SET pgrst.db_max_rows = '4'`)
	SQL(t, db, `ALTER ROLE authenticator IN DATABASE "`+db+`" SET pgrst.db_schemas = 'api, public'`)
	SQL(t, db, `NOTIFY pgrst, 'reload config'`)
	eventually(t, p, "/things", 200).JSONEq(t, `[{"name":"in api"}]`)
	if n := len(p.Get("/items", "Accept-Profile: public").Expect(t, 200).JSON(t).([]any)); n != 4 {
		t.Errorf("after reload: %d rows, want 4", n)
	}
	// keys the database may not set are ignored
	SQL(t, db, `ALTER ROLE authenticator IN DATABASE "`+db+`" SET pgrst.server_port = '1'`)
	if err := p.App.ReloadConfig(t.Context()); err != nil {
		t.Fatal(err)
	}
	// an invalid value keeps the current config
	SQL(t, db, `ALTER ROLE authenticator IN DATABASE "`+db+`" SET pgrst.db_max_rows = 'many'`)
	if err := p.App.ReloadConfig(t.Context()); err == nil {
		t.Error("an invalid in-database value was accepted")
	}
	if n := len(p.Get("/items", "Accept-Profile: public").Expect(t, 200).JSON(t).([]any)); n != 4 {
		t.Errorf("after a failed reload: %d rows, want 4", n)
	}
}

// C2: db-pre-config sets configuration with set_config; db-config=false
// ignores role settings.
func TestPreConfig(t *testing.T) {
	db := NewDB(t, `
CREATE TABLE items (id int);
INSERT INTO items SELECT generate_series(1, 5);
GRANT SELECT ON items TO web_anon;
CREATE FUNCTION pre_config() RETURNS void LANGUAGE sql AS $$SELECT set_config('pgrst.db_max_rows', '3', true)$$;
`)
	SQL(t, db, `ALTER ROLE authenticator IN DATABASE "`+db+`" SET pgrst.db_max_rows = '1'`)
	t.Cleanup(func() { SQL(t, db, `ALTER ROLE authenticator IN DATABASE "`+db+`" RESET ALL`) })
	p := StartPgrest(t, db, func(c *config.Config) { c.DBConfig = false; c.DBPreConfig = "public.pre_config" })
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := len(p.Get("/items").Expect(t, 200).JSON(t).([]any))
		if n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("db-pre-config: %d rows, want 3", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
