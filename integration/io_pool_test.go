package integration

import (
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgrest/pgrest/server/config"
)

// SIGUSR1 flushes the pool as in PostgREST: new connections pick up a
// changed setting of the authenticator role itself.
func TestIOSigusr1FlushesPool(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	auth := newRole(t, "io_flush_auth", "LOGIN NOINHERIT")
	SQL(t, "postgres", `GRANT web_anon TO io_flush_auth`)
	db := NewDB(t, `CREATE FUNCTION timeout() RETURNS text LANGUAGE sql AS $$ SELECT current_setting('statement_timeout') $$;
		GRANT EXECUTE ON FUNCTION timeout() TO web_anon;`)
	port := freePort(t)
	p := startProc(t, "PGRST_DB_URI="+pg.URI(auth, db), "PGRST_DB_ANON_ROLE=web_anon", "PGRST_DB_SCHEMAS=public",
		"PGRST_SERVER_HOST=127.0.0.1", "PGRST_SERVER_PORT="+port, "PGRST_DB_POOL=1")
	p.waitLog(t, `Schema cache loaded`)
	get := func() string {
		r, err := http.Get("http://127.0.0.1:" + port + "/rpc/timeout")
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return string(b)
	}
	if got := get(); got != `"0"` {
		t.Fatalf("before: %s", got)
	}
	SQL(t, "postgres", `ALTER ROLE io_flush_auth SET statement_timeout = '4s'`)
	p.cmd.Process.Signal(syscall.SIGUSR1)
	deadline := time.Now().Add(10 * time.Second)
	for get() != `"4s"` {
		if time.Now().After(deadline) {
			t.Fatalf("after SIGUSR1 the new connection still has the old setting:\n%s", p.stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// After a schema reload the pooled connections are replaced (as PostgREST
// flushes its pool): a column whose type changed is filtered by its new
// type, not through a statement prepared for the old one.
func TestIOSchemaReloadReplacesConnections(t *testing.T) {
	db := NewDB(t, `CREATE TABLE pets (id uuid PRIMARY KEY); GRANT ALL ON pets TO web_anon;`)
	p := StartPgrest(t, db, func(c *config.Config) { c.DBPool = 1 })
	p.Get("/pets?id=eq.dea27321-f988-4a57-93e4-8eeb38f3cf1e").Expect(t, 200)
	SQL(t, db, `DROP TABLE pets; CREATE TABLE pets (id bigint PRIMARY KEY); GRANT ALL ON pets TO web_anon; NOTIFY pgrst, 'reload schema'`)
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := p.Get("/pets?id=eq.1")
		if r.Status == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the reload: %d %s", r.Status, strings.TrimSpace(string(r.Body)))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
