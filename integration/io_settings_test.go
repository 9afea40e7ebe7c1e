package integration

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pgrest/pgrest/server/config"
)

// newRole creates a cluster-wide role for one test (ALTER ROLE ... SET is
// cluster-wide, so tests never share one) and drops it afterwards, after
// the test's database is gone. Call it before NewDB.
func newRole(t *testing.T, name, opts string) string {
	t.Helper()
	ctx := context.Background()
	q := pgx.Identifier{name}.Sanitize()
	if err := pg.Exec(ctx, "postgres", "DROP ROLE IF EXISTS "+q+"; CREATE ROLE "+q+" "+opts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Exec(context.Background(), "postgres", "DROP ROLE IF EXISTS "+q) })
	return name
}

// The impersonated role's own settings (ALTER ROLE ... SET) apply to its
// requests, which SET ROLE alone would not do; its
// default_transaction_isolation is the transaction's level; a setting
// only a superuser may set is left out rather than failing every
// request; a function's own setting wins; a config reload re-reads them.
func TestIORoleSettingsApplied(t *testing.T) {
	role := newRole(t, "io_rs_reader", "NOLOGIN")
	SQL(t, "postgres", `ALTER ROLE io_rs_reader SET statement_timeout = '7s';
		ALTER ROLE io_rs_reader SET default_transaction_isolation = 'repeatable read';
		ALTER ROLE io_rs_reader SET log_min_messages = 'fatal';
		GRANT io_rs_reader TO authenticator`)
	db := NewDB(t, `
		CREATE FUNCTION setting(name text) RETURNS text LANGUAGE sql AS $$ SELECT current_setting(name) $$;
		CREATE FUNCTION own_timeout() RETURNS text LANGUAGE sql SET statement_timeout = '3s'
			AS $$ SELECT current_setting('statement_timeout') $$;
		GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO io_rs_reader;`)
	p := StartPgrest(t, db, func(c *config.Config) { c.DBAnonRole = role })
	p.Get("/rpc/setting?name=statement_timeout").Expect(t, 200).JSONEq(t, `"7s"`)
	p.Get("/rpc/setting?name=transaction_isolation").Expect(t, 200).JSONEq(t, `"repeatable read"`)
	p.Get("/rpc/own_timeout").Expect(t, 200).JSONEq(t, `"3s"`)

	SQL(t, "postgres", `ALTER ROLE io_rs_reader SET statement_timeout = '8s'`)
	if err := p.App.ReloadConfig(context.Background()); err != nil {
		t.Fatal(err)
	}
	p.Get("/rpc/setting?name=statement_timeout").Expect(t, 200).JSONEq(t, `"8s"`)
}

// db-extra-search-path is appended as given, even when it repeats the
// request's schema, as PostgREST sets it.
func TestIOSearchPathAsGiven(t *testing.T) {
	db := NewDB(t, `CREATE FUNCTION sp() RETURNS text LANGUAGE sql AS $$ SELECT current_setting('search_path') $$;
		GRANT EXECUTE ON FUNCTION sp() TO web_anon;`)
	p := StartPgrest(t, db, func(c *config.Config) { c.DBExtraSearchPath = []string{"public"} })
	p.Get("/rpc/sp").Expect(t, 200).JSONEq(t, `"\"public\", \"public\""`)
}

// The authenticator's role settings win over what db-pre-config sets;
// db-pre-config fills in the keys the role settings leave out.
func TestIORoleSettingsOverPreConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	auth := newRole(t, "io_pre_auth", "LOGIN NOINHERIT")
	SQL(t, "postgres", `ALTER ROLE io_pre_auth SET pgrst.db_schemas = 'from_role'`)
	db := NewDB(t, `CREATE SCHEMA conf;
		CREATE FUNCTION conf.pre() RETURNS void LANGUAGE sql AS $$
			SELECT set_config('pgrst.db_schemas', 'from_pre_config', true), set_config('pgrst.db_anon_role', 'pre_anon', true) $$;
		GRANT USAGE ON SCHEMA conf TO io_pre_auth;`)
	out, stderr, code := runCLI(t, []string{"PGRST_DB_URI=" + pg.URI(auth, db), "PGRST_DB_PRE_CONFIG=conf.pre"}, "--dump-config")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{`db-schemas = "from_role"`, `db-anon-role = "pre_anon"`} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("want %s in\n%s", want, out)
		}
	}
}

// An unquoted value in the config file has a type: a number where a
// boolean is expected, or a boolean where a number is, leaves the key at
// its default, and a string key shows the value's type, as PostgREST's
// config format reads them.
func TestIOTypedConfigFileValues(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	file := filepath.Join(t.TempDir(), "typed.conf")
	conf := "db-max-rows = true\ndb-channel-enabled = 13\napp.settings.flag = false\napp.settings.n = 12\ndb-pool = 5\ndb-prepared-statements = \"0\"\n"
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := runCLI(t, []string{"PGRST_DB_CONFIG=false"}, "--dump-config", file)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{`db-max-rows = ""`, `db-channel-enabled = true`, `app.settings.flag = "Bool False"`,
		`app.settings.n = "Number 12.0"`, `db-pool = 5`, `db-prepared-statements = false`} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("want %s in\n%s", want, out)
		}
	}
}

// A request whose client goes away keeps its statement running to the
// end, as in PostgREST: the connection stays taken, so with a pool of one
// the next request times out waiting for it (504 PGRST003).
func TestIOClientGoneKeepsStatement(t *testing.T) {
	db := NewDB(t, `CREATE FUNCTION nap(s float8) RETURNS void LANGUAGE sql AS $$ SELECT pg_sleep(s) $$;
		CREATE TABLE items (id int); GRANT SELECT ON items TO web_anon; GRANT EXECUTE ON FUNCTION nap(float8) TO web_anon;`)
	p := StartPgrest(t, db, func(c *config.Config) {
		c.DBPool = 1
		c.DBPoolAcquisitionTimeout = time.Second
	})
	impatient := *p.Client
	impatient.Timeout = 200 * time.Millisecond
	if r, err := impatient.Get(p.URL + "/rpc/nap?s=3"); err == nil {
		r.Body.Close()
		t.Fatalf("the nap answered within 200ms: %d", r.StatusCode)
	}
	p.Get("/items").ExpectError(t, 504, "PGRST003")
}

// With no config file, a reload (SIGUSR2) still re-reads the file
// jwt-secret = "@path" names, as PostgREST does.
func TestIOEnvSecretFileReloaded(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	db := NewDB(t, `CREATE TABLE notes (id int); GRANT SELECT ON notes TO test_user;`)
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte(strings.Repeat("wrong", 8)), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	p := startProc(t, append(baseEnv(db), "PGRST_SERVER_PORT="+port, "PGRST_JWT_SECRET=@"+secret, "PGRST_DB_CONFIG=false")...)
	p.waitLog(t, `Schema cache loaded in`)
	get := func() int {
		req, _ := http.NewRequest("GET", "http://127.0.0.1:"+port+"/notes", nil)
		req.Header.Set("Authorization", "Bearer "+token(t, map[string]any{"role": "test_user"}))
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r.StatusCode
	}
	if s := get(); s != 401 {
		t.Fatalf("with the wrong secret: %d", s)
	}
	if err := os.WriteFile(secret, []byte(JWTSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Signal(syscall.SIGUSR2)
	p.waitLog(t, `Config reloaded`)
	if s := get(); s != 200 {
		t.Errorf("after SIGUSR2 re-read the secret file: %d", s)
	}
}
