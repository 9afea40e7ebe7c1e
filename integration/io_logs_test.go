package integration

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The start-up lines come in PostgREST's order (the admin server's before
// the API's) and name PostgREST's version; the listener's connection and
// every reload message on the channel are logged at every log level;
// an unknown payload does nothing.
func TestIOStartupAndListenerLogLines(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	db := NewDB(t, "")
	p := startProc(t, append(baseEnv(db), "PGRST_SERVER_PORT="+freePort(t), "PGRST_ADMIN_SERVER_PORT="+freePort(t), "PGRST_LOG_LEVEL=crit")...)
	p.waitLog(t, `Listener connected to PostgreSQL [0-9.]+ on "[^"]+" and listening for database notifications on the "pgrst" channel`)
	p.waitLog(t, `Schema cache loaded in`)
	log := p.stderr.String()
	start, admin, api := strings.Index(log, "Starting PostgREST 16.2 (pgrest "), strings.Index(log, "Admin server listening on"), strings.Index(log, "API server listening on")
	if start < 0 || admin < start || api < admin {
		t.Errorf("start-up lines out of PostgREST's order:\n%s", log)
	}
	SQL(t, db, `NOTIFY pgrst, 'reload config'`)
	p.waitLog(t, `Received a config reload message on the "pgrst" channel`)
	p.waitLog(t, `Config reloaded`)
	SQL(t, db, `NOTIFY pgrst, 'reload schema'`)
	p.waitLog(t, `Received a schema cache reload message on the "pgrst" channel`)
	p.waitLog(t, `(?s)schema cache reload message.*Schema cache loaded`)
	loads := strings.Count(p.stderr.String(), "Schema cache loaded")
	SQL(t, db, `NOTIFY pgrst, 'nothing to see'`)
	time.Sleep(time.Second)
	if n := strings.Count(p.stderr.String(), "Schema cache loaded"); n != loads {
		t.Errorf("an unknown payload reloaded the schema cache:\n%s", p.stderr.String())
	}
}

// A listener that cannot connect says why on one line, with libpq's
// wording for a host name that does not resolve, and when it retries.
func TestIOListenerFailureLogged(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	p := startProc(t, "PGRST_DB_URI=postgresql://nobody@no-such-host.invalid/db", "PGRST_DB_ANON_ROLE=web_anon",
		"PGRST_SERVER_PORT="+freePort(t), "PGRST_SERVER_HOST=127.0.0.1", "PGRST_LOG_LEVEL=crit")
	p.waitLog(t, `Failed listening for database notifications on the "pgrst" channel\. could not translate host name "no-such-host\.invalid" to address: `)
	p.waitLog(t, `Retrying listening for database notifications in [0-9]+ seconds\.\.\.`)
}

// A 5xx from the database is logged (log-level error) as its JSON body,
// as PostgREST logs it; a 5xx pgrest answers without the database (a
// JWT with no secret configured) is answered but not logged.
func TestIOServerErrorLogLines(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	db := NewDB(t, `CREATE FUNCTION boom() RETURNS void LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION USING ERRCODE = 'XX000', MESSAGE = 'it broke'; END $$;
		GRANT EXECUTE ON FUNCTION boom() TO web_anon;`)
	port := freePort(t)
	p := startProc(t, append(baseEnv(db), "PGRST_SERVER_PORT="+port, "PGRST_LOG_LEVEL=error", "PGRST_JWT_SECRET=")...)
	p.waitLog(t, `Schema cache loaded`)
	get := func(path string, headers ...string) int {
		s, _ := ioGet(t, port, path, headers...)
		return s
	}
	if s := get("/rpc/boom"); s != 500 {
		t.Fatalf("boom: %d", s)
	}
	p.waitLog(t, regexp.QuoteMeta(`{"code":"XX000","details":null,"hint":null,"message":"it broke"}`))
	if s := get("/rpc/boom", "Authorization: Bearer "+token(t, map[string]any{"role": "web_anon"})); s != 500 {
		t.Fatalf("JWT without a secret: %d", s)
	}
	time.Sleep(300 * time.Millisecond)
	if strings.Contains(p.stderr.String(), "PGRST300") {
		t.Errorf("the missing JWT secret was logged:\n%s", p.stderr.String())
	}
}

// A db-pre-config that fails is logged as PostgREST logs it: its message,
// then the database error as its JSON body.
func TestIOPreConfigErrorLogged(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	db := NewDB(t, "")
	p := startProc(t, append(baseEnv(db), "PGRST_SERVER_PORT="+freePort(t), "PGRST_DB_PRE_CONFIG=no_such_function")...)
	p.waitLog(t, regexp.QuoteMeta(`Failed to query database settings for the config parameters.{"code":"42883","details":null,`)+
		`.*"message":"function no_such_function\(\) does not exist"}`)
}

// At log-level debug each request's pool steps are logged in PostgREST's
// words; at info they are not.
func TestIOPoolStepsAtDebug(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	db := NewDB(t, `CREATE TABLE notes (id int); GRANT SELECT ON notes TO web_anon;`)
	for _, level := range []string{"debug", "info"} {
		port := freePort(t)
		p := startProc(t, append(baseEnv(db), "PGRST_SERVER_PORT="+port, "PGRST_LOG_LEVEL="+level)...)
		p.waitLog(t, `Schema cache loaded in`)
		r, err := http.Get("http://127.0.0.1:" + port + "/notes")
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		steps := []string{`Trying to borrow a connection from pool`, `Connection [0-9a-f-]+ is used`,
			`Borrowed a connection from the pool`, `Connection [0-9a-f-]+ is available due to session success`}
		if level == "debug" {
			for _, s := range steps {
				p.waitLog(t, s)
			}
			continue
		}
		time.Sleep(300 * time.Millisecond)
		if strings.Contains(p.stderr.String(), "borrow") {
			t.Errorf("pool steps logged at info:\n%s", p.stderr.String())
		}
	}
}
