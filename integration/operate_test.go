package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pgrest/pgrest/server"
	"github.com/pgrest/pgrest/server/config"
	"github.com/rs/zerolog"
)

// proc is a pgrest binary running as a subprocess with its output captured.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	exited         chan int
}

func startProc(t *testing.T, env ...string) *proc {
	t.Helper()
	cmd := exec.Command(buildBinary(t))
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	p := &proc{cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, exited: make(chan int, 1)}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		cmd.Wait()
		p.exited <- cmd.ProcessState.ExitCode()
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
	})
	return p
}

// waitExit returns the exit status, failing the test if it takes too long.
func (p *proc) waitExit(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case code := <-p.exited:
		p.exited <- code
		return code
	case <-time.After(within):
		t.Fatalf("pgrest still running after %v; stderr:\n%s", within, p.stderr.String())
	}
	return -1
}

// waitLog waits for a line of the diagnostic log matching re.
func (p *proc) waitLog(t *testing.T, re string) {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if rx.MatchString(p.stderr.String()) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no log line matching %s; stderr:\n%s", re, p.stderr.String())
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return itoa(l.Addr().(*net.TCPAddr).Port)
}

func baseEnv(db string) []string {
	return []string{
		"PGRST_DB_URI=" + pg.URI("authenticator", db), "PGRST_DB_ANON_ROLE=web_anon",
		"PGRST_DB_SCHEMAS=public", "PGRST_SERVER_HOST=127.0.0.1",
	}
}

// A login the database refuses, or a database that does not exist, ends
// pgrest with status 1 at once instead of retrying forever.
func TestFatalConnectionErrorsExit(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	db := NewDB(t, "")
	for name, uri := range map[string]string{
		"unknown role":     pg.URI("no_such_login_role", db),
		"missing database": pg.URI("authenticator", "no_such_database_here"),
	} {
		p := startProc(t, "PGRST_DB_URI="+uri, "PGRST_SERVER_HOST=127.0.0.1", "PGRST_SERVER_PORT="+freePort(t))
		if code := p.waitExit(t, 15*time.Second); code != 1 {
			t.Errorf("%s: exit %d", name, code)
		}
		if !strings.Contains(p.stderr.String(), "Failed to establish a connection. ") {
			t.Errorf("%s: stderr:\n%s", name, p.stderr.String())
		}
	}
}

// tcpProxy forwards to PostgreSQL until cut, which drops every connection
// and refuses new ones: a database lost from pgrest's point of view.
type tcpProxy struct {
	l     net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newProxy(t *testing.T, target string) *tcpProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{l: l}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { io.Copy(u, c); u.Close() }()
			go func() { io.Copy(c, u); c.Close() }()
		}
	}()
	t.Cleanup(p.cut)
	return p
}

func (p *tcpProxy) cut() {
	p.l.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

func (p *tcpProxy) uri(db string) string {
	return "postgres://authenticator@" + p.l.Addr().String() + "/" + db + "?sslmode=disable"
}

// db-pool-automatic-recovery = false: a lost database connection ends
// pgrest with status 1, and so does a database unreachable at startup.
func TestNoAutomaticRecoveryExits(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	db := NewDB(t, `CREATE TABLE items (id int); GRANT SELECT ON items TO web_anon;`)
	proxy := newProxy(t, "127.0.0.1:"+itoa(pg.Port))
	port := freePort(t)
	p := startProc(t, "PGRST_DB_URI="+proxy.uri(db), "PGRST_DB_ANON_ROLE=web_anon", "PGRST_SERVER_HOST=127.0.0.1",
		"PGRST_SERVER_PORT="+port, "PGRST_DB_POOL_AUTOMATIC_RECOVERY=false")
	p.waitLog(t, `Schema cache loaded in [0-9.]+ milliseconds`)
	if r, err := http.Get("http://127.0.0.1:" + port + "/items"); err != nil || r.StatusCode != 200 {
		t.Fatalf("before the cut: %v %v", r, err)
	}
	proxy.cut()
	if code := p.waitExit(t, 15*time.Second); code != 1 {
		t.Errorf("exit %d", code)
	}
	if !strings.Contains(p.stderr.String(), "Automatic recovery disabled, exiting.") {
		t.Errorf("stderr:\n%s", p.stderr.String())
	}

	q := startProc(t, "PGRST_DB_URI="+proxy.uri(db), "PGRST_SERVER_HOST=127.0.0.1", "PGRST_SERVER_PORT="+freePort(t),
		"PGRST_DB_POOL_AUTOMATIC_RECOVERY=false")
	if code := q.waitExit(t, 15*time.Second); code != 1 {
		t.Errorf("unreachable at startup: exit %d", code)
	}
}

// PostgREST's log lines: plain text on stderr, the request log in Apache
// format on stdout; pgrest-log-format = json gives JSON lines instead.
func TestPlainAndJSONLogs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	db := NewDB(t, `CREATE TABLE items (id int); GRANT SELECT ON items TO web_anon;`)
	port, admin := freePort(t), freePort(t)
	p := startProc(t, append(baseEnv(db), "PGRST_SERVER_PORT="+port, "PGRST_ADMIN_SERVER_PORT="+admin,
		"PGRST_LOG_LEVEL=info", "PGRST_LOG_QUERY=true")...)
	stamp := `(?m)^[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}: `
	p.waitLog(t, stamp+`Schema cache loaded in [0-9]+\.[0-9] milliseconds$`)
	req, _ := http.NewRequest("GET", "http://127.0.0.1:"+port+"/items?id=eq.1", nil)
	req.Header.Set("User-Agent", "operate-test")
	if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != 200 {
		t.Fatalf("GET: %v %v", r, err)
	}
	p.waitLog(t, stamp+`WITH pgrst_source AS \(SELECT .*"items"`)
	for _, want := range []string{
		stamp + `Starting PostgREST 16\.2 \(pgrest .*\)\.\.\.$`,
		stamp + `API server listening on 127\.0\.0\.1:` + port + `$`,
		stamp + `Admin server listening on 127\.0\.0\.1:` + admin + `$`,
		stamp + `Successfully connected to PostgreSQL `,
		stamp + `Connection Pool initialized with a maximum size of 10 connections$`,
	} {
		p.waitLog(t, want)
	}
	access := regexp.MustCompile(`(?m)^127\.0\.0\.1 - web_anon \[[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9:]{8} [+-][0-9]{4}\] "GET /items\?id=eq\.1 HTTP/1\.1" 200 [0-9]+ "" "operate-test"$`)
	deadline := time.Now().Add(5 * time.Second)
	for !access.MatchString(p.stdout.String()) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if !access.MatchString(p.stdout.String()) {
		t.Errorf("request log on stdout:\n%s", p.stdout.String())
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.waitExit(t, 15*time.Second); code != 0 {
		t.Errorf("SIGTERM: exit %d", code)
	}
	p.waitLog(t, stamp+`Received termination unix signal SIGTERM$`)

	jport := freePort(t)
	j := startProc(t, append(baseEnv(db), "PGRST_SERVER_PORT="+jport, "PGRST_LOG_LEVEL=info", "PGRST_PGREST_LOG_FORMAT=json")...)
	j.waitLog(t, `"message":"API server listening on 127\.0\.0\.1:`+jport+`"`)
	sc := bufio.NewScanner(strings.NewReader(j.stderr.String()))
	for sc.Scan() {
		var v map[string]any
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Errorf("not a JSON line: %s", sc.Text())
		}
	}
}

// The admin server on a unix socket, and --ready against it and against a
// TCP admin port; --ready explains why it cannot check.
func TestAdminUnixSocketAndReadyFlag(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	db := NewDB(t, "")
	sock := filepath.Join(t.TempDir(), "admin.sock")
	env := append(baseEnv(db), "PGRST_SERVER_PORT="+freePort(t), "PGRST_ADMIN_SERVER_UNIX_SOCKET="+sock,
		"PGRST_ADMIN_SERVER_UNIX_SOCKET_MODE=600")
	p := startProc(t, env...)
	p.waitLog(t, `Admin server listening on unix socket `+regexp.QuoteMeta(sock))
	p.waitLog(t, `Schema cache loaded`)
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode: %v %v", fi, err)
	}
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	for _, path := range []string{"/live", "/ready"} {
		r, err := client.Get("http://admin" + path)
		if err != nil || r.StatusCode != 200 {
			t.Errorf("%s over the unix socket: %v %v", path, r, err)
		}
	}
	if out, stderr, code := runCLI(t, env, "--ready"); code != 0 || !strings.HasPrefix(out, "OK: ") {
		t.Errorf("--ready over the unix socket: %d %q %q", code, out, stderr)
	}

	port, admin := freePort(t), freePort(t)
	tcpEnv := append(baseEnv(db), "PGRST_SERVER_PORT="+port, "PGRST_ADMIN_SERVER_PORT="+admin)
	q := startProc(t, tcpEnv...)
	q.waitLog(t, `Schema cache loaded`)
	out, stderr, code := runCLI(t, tcpEnv, "--ready")
	if want := "OK: http://127.0.0.1:" + admin + "/ready"; code != 0 || !strings.Contains(out, want) {
		t.Errorf("--ready: %d %q %q", code, out, stderr)
	}
	other := freePort(t)
	_, stderr, code = runCLI(t, append(baseEnv(db), "PGRST_ADMIN_SERVER_PORT="+other), "--ready")
	if code != 1 || !strings.Contains(stderr, "ERROR: connection refused to http://127.0.0.1:"+other+"/ready") {
		t.Errorf("--ready without a server: %d %q", code, stderr)
	}
	_, stderr, code = runCLI(t, baseEnv(db), "--ready")
	if code != 1 || !strings.Contains(stderr, "ERROR: Admin server is not running. Please check admin-server-port config.") {
		t.Errorf("--ready without an admin server: %d %q", code, stderr)
	}
	_, stderr, code = runCLI(t, []string{"PGRST_SERVER_HOST=*4", "PGRST_ADMIN_SERVER_PORT=" + other}, "--ready")
	if code != 1 || !strings.Contains(stderr, "The `--ready` flag cannot be used when server-host is configured as \"*4\"") {
		t.Errorf("--ready on *4: %d %q", code, stderr)
	}
}

// /live and /ready answer 500 once the API no longer accepts connections;
// /metrics is text/plain; every response names the server as PostgREST does.
func TestAdminReportsMainAppDown(t *testing.T) {
	db := NewDB(t, `CREATE TABLE items (id int); GRANT SELECT ON items TO web_anon;`)
	app, err := server.New(BaseConfig(db), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	api, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	al, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app.Start()
	go app.Serve(api)
	app.ServeAdmin(al)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		app.Shutdown(ctx)
	})
	p := &Pgrest{URL: "http://" + api.Addr().String(), App: app, Client: http.DefaultClient, t: t}
	p.WaitReady()
	if s := p.Get("/items").Expect(t, 200).Header.Get("Server"); !strings.HasPrefix(s, "postgrest/16") {
		t.Errorf("Server = %q", s)
	}
	admin := "http://" + al.Addr().String()
	status := func(path string) int {
		r, err := http.Get(admin + path)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r.StatusCode
	}
	if a, b := status("/live"), status("/ready"); a != 200 || b != 200 {
		t.Fatalf("live %d ready %d", a, b)
	}
	r, _ := http.Get(admin + "/metrics")
	if ct := r.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("/metrics Content-Type = %q", ct)
	}
	if s := r.Header.Get("Server"); !strings.HasPrefix(s, "postgrest/") {
		t.Errorf("admin Server = %q", s)
	}
	if status("/nothing") != 404 {
		t.Error("unknown admin path: want 404")
	}
	// v13 removed /config: it served the JWT secret to anyone on the admin port.
	if status("/config") != 404 {
		t.Error("/config must not be served")
	}
	api.Close() // the API stops accepting connections; the admin server stays
	if a, b := status("/live"), status("/ready"); a != 500 || b != 500 {
		t.Errorf("after the API stopped: live %d ready %d", a, b)
	}
}

// jwt-role-claim-key filters as v16 takes them: the role is the first
// element that passes.
func TestRoleClaimKeyFilters(t *testing.T) {
	db := NewDB(t, `
		CREATE FUNCTION whoami() RETURNS text LANGUAGE sql AS $$ SELECT current_user::text $$;
		GRANT EXECUTE ON FUNCTION whoami() TO web_anon, test_user, other_user;`)
	claims := map[string]any{"realm": map[string]any{"roles": []any{"offline", "app_other_user", "test_user"}}}
	for key, want := range map[string]string{
		`$.realm.roles[?(@ == "test_user")]`:    "test_user",
		`.realm.roles[?(@ ^== "app_")]`:         "app_other_user",
		`$.realm.roles[?(@ ==^ "_user")]`:       "app_other_user",
		`$.realm.roles[?(@ *== "st_us")]`:       "test_user",
		`$.realm.roles[?(@ != "offline")]`:      "app_other_user",
		`$.realm.roles[?search(@, "^test_")]`:   "test_user",
		`$.realm.roles[?(@ == "no_such_role")]`: "web_anon",
	} {
		p := StartPgrest(t, db, func(c *config.Config) { c.JWTRoleClaimKey = key })
		r := p.Get("/rpc/whoami", "Authorization: Bearer "+token(t, claims))
		if want == "app_other_user" {
			// no such role in the database: PostgREST's 401 for an unknown role
			if r.Status == 200 {
				t.Errorf("%s: %d %s", key, r.Status, r.Body)
			}
			continue
		}
		r.Expect(t, 200)
		if got := strings.Trim(string(r.Body), `"`); got != want {
			t.Errorf("%s: role %s, want %s", key, got, want)
		}
	}
}

// PostgREST's config rules from the command line: empty variables are
// unset, numeric and quoted booleans, its validation messages and exit 1.
func TestConfigValidationCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	out, stderr, code := runCLI(t, []string{"PGRST_LOG_LEVEL=", "PGRST_DB_POOL=", "PGRST_JWT_SECRET_IS_BASE64=2",
		"PGRST_DB_CHANNEL_ENABLED=0", "PGRST_DB_PREPARED_STATEMENTS=\"FALSE\""}, "--dump-config")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"log-level = \"error\"\n", "db-pool = 10\n", "jwt-secret-is-base64 = true\n", "db-channel-enabled = false\n",
		"db-prepared-statements = false\n", "admin-server-port = \"\"\n", "db-max-rows = \"\"\n", "jwt-role-claim-key = \"$$.role\"\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("--dump-config lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "pgrest-") {
		t.Errorf("pgrest keys at their defaults are not dumped:\n%s", out)
	}
	for env, want := range map[string]string{
		"PGRST_SERVER_PORT=99999":                        "server-port",
		"PGRST_ADMIN_SERVER_PORT=3000":                   "admin-server-port cannot be the same as server-port",
		"PGRST_JWT_ROLE_CLAIM_KEY=$.my_role;;domain":     "failed to parse role-claim-key value ($.my_role;;domain)",
		"PGRST_JWT_AUD=foo://%%$$^^.com":                 "jwt-aud should be a string or a valid URI",
		"PGRST_OPENAPI_SERVER_PROXY_URI=ftp://x.org/a":   "Malformed proxy uri",
		"PGRST_OPENAPI_MODE=everything":                  "Invalid openapi-mode. Check your configuration.",
		"PGRST_DB_POOL=abc":                              `invalid value for db-pool: "abc"`,
		"PGRST_DB_POOL=0":                                `invalid value for db-pool: "0"`,
		"PGRST_DB_SCHEMAS=public,information_schema":     "db-schemas does not allow schema: 'information_schema'",
		"PGRST_ADMIN_SERVER_UNIX_SOCKET_MODE=1777":       "needs to be between 600 and 777",
		"PGRST_JWT_ROLE_CLAIM_KEY=.roles[?(@ ~~ \"x\")]": "failed to parse role-claim-key value",
	} {
		_, stderr, code := runCLI(t, []string{env}, "--dump-config")
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("%s: exit %d, stderr %q", env, code, stderr)
		}
	}
}

// --dump-config shows the in-database configuration over the environment's,
// as PostgREST's does.
func TestDumpConfigReadsDatabaseSettings(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	db := NewDB(t, "")
	SQL(t, db, `ALTER ROLE authenticator IN DATABASE `+db+` SET pgrst.openapi_mode = 'disabled'`)
	out, stderr, code := runCLI(t, []string{"PGRST_DB_URI=" + pg.URI("authenticator", db), "PGRST_OPENAPI_MODE=ignore-privileges"}, "--dump-config")
	if code != 0 || !strings.Contains(out, "openapi-mode = \"disabled\"\n") {
		t.Errorf("exit %d %s\n%s", code, stderr, out)
	}
	out, _, code = runCLI(t, []string{"PGRST_DB_URI=" + pg.URI("authenticator", db), "PGRST_DB_CONFIG=false", "PGRST_OPENAPI_MODE=ignore-privileges"}, "--dump-config")
	if code != 0 || !strings.Contains(out, "openapi-mode = \"ignore-privileges\"\n") {
		t.Errorf("db-config = false: exit %d\n%s", code, out)
	}
}

// log-level is reloadable (v16): after SIGUSR2 re-reads the file, requests
// the new level shows are logged.
func TestLogLevelReload(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	db := NewDB(t, `CREATE TABLE items (id int); GRANT SELECT ON items TO web_anon;`)
	port := freePort(t)
	file := filepath.Join(t.TempDir(), "pgrest.conf")
	write := func(level string) {
		conf := "db-uri = \"" + pg.URI("authenticator", db) + "\"\ndb-anon-role = \"web_anon\"\nserver-host = \"127.0.0.1\"\n" +
			"server-port = " + port + "\npgrest-log-format = \"json\"\nlog-level = \"" + level + "\"\n"
		if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("error")
	q := exec.Command(buildBinary(t), file)
	q.Env = []string{"PATH=" + os.Getenv("PATH")}
	var stderr syncBuffer
	q.Stderr = &stderr
	if err := q.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Process.Kill(); q.Wait() })
	get := func() {
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			r, err := http.Get("http://127.0.0.1:" + port + "/items")
			if err == nil && r.StatusCode == 200 {
				r.Body.Close()
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("pgrest did not answer:\n%s", stderr.String())
	}
	get()
	time.Sleep(200 * time.Millisecond)
	if strings.Contains(stderr.String(), `"status":200`) {
		t.Fatalf("a 200 is logged at log-level error:\n%s", stderr.String())
	}
	write("info")
	reloads := strings.Count(stderr.String(), "Config reloaded")
	q.Process.Signal(syscall.SIGUSR2)
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(stderr.String(), "Config reloaded") == reloads && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	get()
	time.Sleep(200 * time.Millisecond)
	if !strings.Contains(stderr.String(), `"status":200`) {
		t.Errorf("after reloading log-level = info, requests are logged:\n%s", stderr.String())
	}
}

// pgrest names itself in pg_stat_activity only when db-uri does not.
func TestApplicationNameFallback(t *testing.T) {
	db := NewDB(t, `
		CREATE FUNCTION app_name() RETURNS text LANGUAGE sql AS $$ SELECT current_setting('application_name') $$;
		GRANT EXECUTE ON FUNCTION app_name() TO web_anon;`)
	for uri, want := range map[string]string{
		pg.URI("authenticator", db):                              "PostgREST 16.2 (pgrest ",
		pg.URI("authenticator", db) + "&application_name=my-api": "my-api",
	} {
		p := StartPgrest(t, db, func(c *config.Config) { c.DBURI = uri })
		got := strings.Trim(string(p.Get("/rpc/app_name").Expect(t, 200).Body), `"`)
		if !strings.HasPrefix(got, want) {
			t.Errorf("%s: application_name %q", uri, got)
		}
	}
}

// With automatic recovery (the default) an unreachable database is retried:
// /live answers 200, /ready and /schema_cache tell it is not loaded yet.
func TestUnreachableDatabaseIsRetried(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	db := NewDB(t, "")
	proxy := newProxy(t, "127.0.0.1:"+itoa(pg.Port))
	proxy.cut()
	admin := freePort(t)
	p := startProc(t, "PGRST_DB_URI="+proxy.uri(db), "PGRST_SERVER_HOST=127.0.0.1", "PGRST_SERVER_PORT="+freePort(t),
		"PGRST_ADMIN_SERVER_PORT="+admin)
	p.waitLog(t, `Attempting to reconnect to the database in 1 seconds\.\.\.`)
	for path, want := range map[string]int{"/live": 200, "/ready": 503, "/schema_cache": 200} {
		r, err := http.Get("http://127.0.0.1:" + admin + path)
		if err != nil || r.StatusCode != want {
			t.Errorf("%s: %v %v, want %d", path, r, err, want)
		}
	}
	select {
	case code := <-p.exited:
		t.Errorf("pgrest exited (%d) instead of retrying", code)
	default:
	}
}
