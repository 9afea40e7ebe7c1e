package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgrest/pgrest/server/config"
)

// ioGet is a GET on a running binary's port; the status and body.
func ioGet(t *testing.T, port, path string, headers ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", "http://127.0.0.1:"+port+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return r.StatusCode, string(b)
}

// ioStatus is a GET's status from any goroutine; 0 when it fails.
func ioStatus(port, path string) int {
	r, err := http.Get("http://127.0.0.1:" + port + path)
	if err != nil {
		return 0
	}
	r.Body.Close()
	return r.StatusCode
}

// log-query shows each statement a request ran on a line of its own once
// the response is known, for the responses the request log shows at the
// log level: at warn a 4xx's statements and not a 2xx's; at info all,
// with the planned count's EXPLAIN and the pre-request call.
func TestIOLogQueryFollowsTheResponseStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	db := NewDB(t, `CREATE TABLE gauges (id int, reading int); INSERT INTO gauges VALUES (1, 10);
		GRANT SELECT ON gauges TO web_anon;
		CREATE FUNCTION check_gauges() RETURNS void LANGUAGE sql AS 'SELECT';
		GRANT EXECUTE ON FUNCTION check_gauges() TO web_anon;`)
	stmt := regexp.MustCompile(`(?m)^\d\d/\w+/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}: (.*"public"\."gauges".*)$`)
	lines := func(p *proc) []string {
		var out []string
		for _, m := range stmt.FindAllStringSubmatch(p.stderr.String(), -1) {
			out = append(out, m[1])
		}
		return out
	}

	port := freePort(t)
	warn := startProc(t, append(baseEnv(db), "PGRST_SERVER_PORT="+port, "PGRST_LOG_LEVEL=warn", "PGRST_LOG_QUERY=true")...)
	warn.waitLog(t, `Schema cache loaded`)
	if s, _ := ioGet(t, port, "/gauges"); s != 200 {
		t.Fatalf("GET /gauges: %d", s)
	}
	if s, _ := ioGet(t, port, "/gauges?reading=eq.not-a-number"); s != 400 {
		t.Fatalf("bad filter: %d", s)
	}
	warn.waitLog(t, `reading`)
	if got := lines(warn); len(got) != 1 || !strings.Contains(got[0], `"reading"`) {
		t.Errorf("at warn, only the 400's statement is logged; got %q", got)
	}

	port = freePort(t)
	info := startProc(t, append(baseEnv(db), "PGRST_SERVER_PORT="+port, "PGRST_LOG_LEVEL=info", "PGRST_LOG_QUERY=true",
		"PGRST_DB_PRE_REQUEST=check_gauges")...)
	info.waitLog(t, `Schema cache loaded`)
	if s, _ := ioGet(t, port, "/gauges", "Prefer: count=planned"); s != 206 && s != 200 {
		t.Fatalf("planned count: %d", s)
	}
	info.waitLog(t, `EXPLAIN \(FORMAT JSON\) .*"gauges"`)
	info.waitLog(t, `(?m)^\S+ \S+: select "check_gauges"\(\)$`)
	if got := lines(info); len(got) != 2 || !strings.HasPrefix(got[0], "EXPLAIN (FORMAT JSON) ") || strings.HasPrefix(got[1], "EXPLAIN") {
		t.Errorf("at info, the count's EXPLAIN then the statement; got %q", got)
	}
	// The statements read as PostgREST writes them: the settings with
	// their names spelled out, the count, the rows from pgrst_source.
	for _, re := range []string{
		`: select set_config\('search_path', \$1, true\), set_config\(`,
		`: EXPLAIN \(FORMAT JSON\) SELECT 1  FROM "public"\."gauges"`,
		`: WITH pgrst_source AS.+SELECT "public"\."gauges"\.\* FROM "public"\."gauges".+_postgrest_t`,
	} {
		info.waitLog(t, re)
	}
}

// jwt-role-claim-key slices a string claim, Python-style, in v16's
// pre-JSONPath syntax: [7:] drops a prefix, [:-7] a suffix, and a slice
// may follow a filter; a slice past the end leaves an empty role (401).
func TestIORoleClaimKeySlicesAString(t *testing.T) {
	db := NewDB(t, `CREATE TABLE secrets (id int); GRANT SELECT ON secrets TO test_user;`)
	for _, c := range []struct {
		key    string
		claims map[string]any
		want   int
	}{
		{".roles[0][7:]", map[string]any{"roles": []any{"tenant_test_user"}}, 200},
		{".roles[0][:-7]", map[string]any{"roles": []any{"test_user_tenant"}}, 200},
		{".roles[0][7:-7]", map[string]any{"roles": []any{"tenant_test_user_tenant"}}, 200},
		{".roles[0][:]", map[string]any{"roles": []any{"test_user"}}, 200},
		{`.roles[?(@ ^== "tenant_")][7:]`, map[string]any{"roles": []any{"admin", "tenant_test_user"}}, 200},
		{`.roles[?(@ ^== "tenant_")][99:]`, map[string]any{"roles": []any{"tenant_test_user"}}, 401},
	} {
		p := StartPgrest(t, db, func(cfg *config.Config) { cfg.JWTRoleClaimKey = c.key })
		p.Get("/secrets", "Authorization: Bearer "+token(t, c.claims)).Expect(t, c.want)
	}
}

// An unsigned token (alg "none") is refused with jose's reason in details.
func TestIOUnsecuredTokenDetails(t *testing.T) {
	db := NewDB(t, `CREATE TABLE notes (id int); GRANT SELECT ON notes TO web_anon;`)
	p := StartPgrest(t, db, nil)
	unsigned := "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.e30."
	e := p.Get("/notes", "Authorization: Bearer "+unsigned).ExpectError(t, 401, "PGRST301")
	if e["message"] != "Wrong or unsupported encoding algorithm" || e["details"] != "JWT is unsecured but expected 'alg' was not 'none'" {
		t.Errorf("got %v", e)
	}
}

// The admin /schema_cache (and --dump-schema) is v16's schema cache: maps
// as [key, value] pairs sorted by name, tables keyed by qiName/qiSchema,
// relationships with their cardinality tag.
func TestIOSchemaCacheInV16Shape(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	db := NewDB(t, `CREATE TABLE zones (id int PRIMARY KEY, label varchar(10));
		CREATE TABLE areas (id int PRIMARY KEY, zone_id int REFERENCES zones(id));
		CREATE FUNCTION area_count() RETURNS bigint LANGUAGE sql STABLE AS 'SELECT count(*) FROM areas';`)
	admin := freePort(t)
	p := startProc(t, append(baseEnv(db), "PGRST_SERVER_PORT="+freePort(t), "PGRST_ADMIN_SERVER_PORT="+admin)...)
	p.waitLog(t, `Schema cache loaded`)
	s, body := ioGet(t, admin, "/schema_cache")
	if s != 200 || !strings.HasPrefix(body, `{"dbTables":[[{"qiName":"areas","qiSchema":"public"},{"tableSchema":"public","tableName":"areas"`) {
		t.Fatalf("/schema_cache: %d %.300s", s, body)
	}
	var sc struct {
		Tables   [][2]json.RawMessage `json:"dbTables"`
		Rels     [][2]json.RawMessage `json:"dbRelationships"`
		Routines [][2]json.RawMessage `json:"dbRoutines"`
	}
	if err := json.Unmarshal([]byte(body), &sc); err != nil {
		t.Fatal(err)
	}
	if len(sc.Tables) != 2 || !strings.Contains(string(sc.Tables[1][1]), `"label":{"colName":"label","colDescription":null,"colNullable":true,"colType":"character varying(10)"`) {
		t.Errorf("dbTables: %s", sc.Tables)
	}
	if len(sc.Rels) != 2 || !strings.Contains(string(sc.Rels[0][1]), `"relCardinality":{"tag":"M2O","relCons":"areas_zone_id_fkey","relColumns":[["zone_id","id"]]}`) {
		t.Errorf("dbRelationships: %s", sc.Rels)
	}
	if len(sc.Routines) != 1 || !strings.Contains(string(sc.Routines[0][1]), `"pdVolatility":"Stable"`) {
		t.Errorf("dbRoutines: %s", sc.Routines)
	}
}

// --ready with an admin-server-port that is no port reports the URL it
// could not use, as v16 does, and exits 1.
func TestIOReadyWithAnInvalidPort(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	_, stderr, code := runCLI(t, []string{"PGRST_SERVER_HOST=localhost", "PGRST_ADMIN_SERVER_PORT=-1"}, "--ready")
	if code != 1 || !strings.Contains(stderr, "ERROR: invalid url - http://localhost:-1/ready") {
		t.Errorf("exit %d: %s", code, stderr)
	}
}

// --load-schema-cache is accepted: pgrest says it loads the schema cache
// from the database instead, and serves as usual.
func TestIOLoadSchemaCacheFallsBackToTheDatabase(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	db := NewDB(t, `CREATE TABLE boxes (id int); INSERT INTO boxes VALUES (3); GRANT SELECT ON boxes TO web_anon;`)
	port := freePort(t)
	missing := filepath.Join(t.TempDir(), "no-such-dump.json")
	cmd := exec.Command(buildBinary(t), "--load-schema-cache", missing)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, append(baseEnv(db), "PGRST_SERVER_PORT="+port)...)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(stderr.String(), "Schema cache loaded") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(stderr.String(), "Could not load the schema cache from "+missing) {
		t.Errorf("no line about the file:\n%s", stderr.String())
	}
	if s, body := ioGet(t, port, "/boxes"); s != 200 || body != `[{"id":3}]` {
		t.Errorf("GET /boxes: %d %s", s, body)
	}
}

// When the pool stays exhausted, a burst of acquisition timeouts is logged
// as v16 does: the first at once, then one more after a five-second
// cooldown, not a line per request (each request still gets its 504).
func TestIOPoolTimeoutLogIsDebounced(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	db := NewDB(t, `CREATE FUNCTION hold() RETURNS void LANGUAGE sql AS 'SELECT pg_sleep(8)';
		GRANT EXECUTE ON FUNCTION hold() TO web_anon;
		CREATE TABLE rows_ (id int); GRANT SELECT ON rows_ TO web_anon;`)
	port := freePort(t)
	p := startProc(t, append(baseEnv(db), "PGRST_SERVER_PORT="+port, "PGRST_DB_POOL=1",
		"PGRST_DB_POOL_ACQUISITION_TIMEOUT=1", "PGRST_LOG_LEVEL=error")...)
	p.waitLog(t, `Schema cache loaded`)
	go ioStatus(port, "/rpc/hold")
	time.Sleep(500 * time.Millisecond) // the only connection is taken
	done := make(chan int, 6)
	for i := 0; i < 6; i++ {
		go func() { done <- ioStatus(port, "/rows_") }()
	}
	for i := 0; i < 6; i++ {
		if s := <-done; s != 504 {
			t.Errorf("request %d: %d, want 504", i, s)
		}
	}
	time.Sleep(6 * time.Second)
	if n := strings.Count(p.stderr.String(), "Timed out acquiring connection from connection pool."); n != 2 {
		t.Errorf("%d timeout lines, want 2:\n%s", n, p.stderr.String())
	}
}

// A jwt-role-claim-key in the pre-v16 syntax gets v16's two warning lines
// (the key shown quoted, as v16 reads it) at start-up and again after a
// config reload; a JSONPath key gets none.
func TestIODeprecatedRoleClaimKeyWarning(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	db := NewDB(t, "")
	warning := "WARNING: The config `jwt-role-claim-key=.\"claims\".\"roles\"[0][7:]` is using the deprecated JSPath syntax."
	update := "Update `jwt-role-claim-key=.\"claims\".\"roles\"[0][7:]` to the new JSONPath syntax as support for JSPath will be removed in a future release." +
		" See the migration guide on how to update: https://github.com/PostgREST/postgrest/blob/main/CHANGELOG.md#migration-to-v16"
	p := startProc(t, append(baseEnv(db), "PGRST_SERVER_PORT="+freePort(t), "PGRST_JWT_ROLE_CLAIM_KEY=.claims.roles[0][7:]")...)
	p.waitLog(t, `Schema cache loaded`)
	if log := p.stderr.String(); strings.Count(log, warning) != 1 || strings.Count(log, update) != 1 {
		t.Fatalf("no deprecation warning at start-up:\n%s", log)
	}
	if err := p.cmd.Process.Signal(syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	p.waitLog(t, `(?s)Config reloaded.*is using the deprecated JSPath syntax`)

	q := startProc(t, append(baseEnv(db), "PGRST_SERVER_PORT="+freePort(t), "PGRST_JWT_ROLE_CLAIM_KEY=$.claims.roles[0]")...)
	q.waitLog(t, `Schema cache loaded`)
	if strings.Contains(q.stderr.String(), "WARNING") {
		t.Errorf("a JSONPath key was warned about:\n%s", q.stderr.String())
	}
}
