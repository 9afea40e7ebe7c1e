package integration

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pgrest/pgrest/embedpg"
	"github.com/pgrest/pgrest/server/config"
)

const slowFixture = `
CREATE TABLE items (id int PRIMARY KEY, name text);
INSERT INTO items VALUES (1, 'one'), (2, 'two');
CREATE VIEW slow AS SELECT 1 AS x FROM pg_sleep(1.5);
GRANT SELECT ON items, slow TO web_anon;
`

// C4: a pool of one held by a slow request makes the next request wait for
// db-pool-acquisition-timeout and fail with 504 PGRST003.
func TestPoolAcquisitionTimeout(t *testing.T) {
	db := NewDB(t, slowFixture)
	p := StartPgrest(t, db, func(c *config.Config) {
		c.DBPool = 1
		c.DBPoolAcquisitionTimeout = 300 * time.Millisecond
	})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.Get("/slow").Expect(t, 200)
	}()
	time.Sleep(300 * time.Millisecond) // let the slow request take the only connection
	p.Get("/items").ExpectError(t, 504, "PGRST003")
	wg.Wait()
	p.Get("/items").Expect(t, 200)
}

// C4: PostgreSQL down at start → 503, then pgrest recovers by itself once it
// is up; and again when it goes away later.
func TestDatabaseDownAndRecovery(t *testing.T) {
	ctx := context.Background()
	own, err := embedpg.Start(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer own.Remove()
	if err := own.Exec(ctx, "postgres", `CREATE ROLE authenticator LOGIN NOINHERIT; CREATE ROLE web_anon NOLOGIN; GRANT web_anon TO authenticator;`+slowFixture); err != nil {
		t.Fatal(err)
	}
	if err := own.StopServer(ctx); err != nil {
		t.Fatal(err)
	}
	cfg := BaseConfig("postgres")
	cfg.DBURI = own.URI("authenticator", "postgres")
	p := StartPgrestConfig(t, cfg)

	r := p.Get("/items")
	if r.Status != 503 {
		t.Fatalf("with the database down: status %d, want 503: %s", r.Status, r.Body)
	}
	code := r.JSON(t).(map[string]any)["code"]
	if code != "PGRST001" && code != "PGRST002" {
		t.Fatalf("code %v, want PGRST001/PGRST002", code)
	}

	if err := own.StartServer(ctx); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, p, "/items", 200, 60*time.Second)

	// Down again while serving: 503, then back without a restart of pgrest.
	if err := own.StopServer(ctx); err != nil {
		t.Fatal(err)
	}
	if r := p.Get("/items"); r.Status != 503 {
		t.Fatalf("after the database went away: status %d, want 503: %s", r.Status, r.Body)
	}
	if err := own.StartServer(ctx); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, p, "/items", 200, 60*time.Second)
}

func waitStatus(t *testing.T, p *Pgrest, path string, status int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	var last *Resp
	for time.Now().Before(deadline) {
		last = p.Get(path)
		if last.Status == status {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s did not answer %d within %s; last: %d %s", path, status, within, last.Status, last.Body)
}

// A2: the transaction-local settings are visible to SQL.
func TestRequestSettings(t *testing.T) {
	db := NewDB(t, `
		CREATE VIEW whoami AS SELECT
		  current_user::text AS role,
		  current_setting('request.method') AS method,
		  current_setting('request.path') AS path,
		  current_setting('request.headers')::json->>'x-custom' AS header,
		  current_setting('request.cookies')::json->>'flavour' AS cookie,
		  current_setting('request.jwt.claims', true) AS claims,
		  current_setting('search_path') AS search_path,
		  current_setting('app.settings.greeting', true) AS greeting,
		  current_setting('transaction_read_only') AS read_only;
		GRANT SELECT ON whoami TO web_anon;`)
	p := StartPgrest(t, db, func(c *config.Config) {
		c.AppSettings = map[string]string{"greeting": "hello"}
		c.DBExtraSearchPath = []string{"public", "extensions"}
	})
	r := p.Get("/whoami", "X-Custom: yes", "Cookie: flavour=oatmeal").Expect(t, 200)
	rows := r.JSON(t).([]any)
	row := rows[0].(map[string]any)
	want := map[string]any{
		"role": "web_anon", "method": "GET", "path": "/whoami", "header": "yes",
		"cookie": "oatmeal", "search_path": `"public", "public", "extensions"`, "greeting": "hello", "read_only": "on",
	}
	for k, v := range want {
		if row[k] != v {
			t.Errorf("%s = %v, want %v", k, row[k], v)
		}
	}
}

// S7: every response names the schema version; X-Schema-Version-Min waits
// for a newer one or answers 503 with Retry-After.
func TestSchemaVersionHeaders(t *testing.T) {
	db := NewDB(t, slowFixture)
	p := StartPgrest(t, db, func(c *config.Config) { c.SchemaWaitTimeout = 200 * time.Millisecond })
	r := p.Get("/items").Expect(t, 200)
	v := r.Header.Get("X-Schema-Version")
	if v == "" {
		t.Fatal("no X-Schema-Version header")
	}
	p.Get("/items", "X-Schema-Version-Min: "+v).Expect(t, 200)
	r = p.Get("/items", "X-Schema-Version-Min: 999999999")
	r.ExpectError(t, 503, "PGRST002")
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After on a 503 for a future schema version")
	}
	p.Get("/items", "X-Schema-Version-Min: abc").ExpectError(t, 400, "PGRST100")
}

// C5: SIGTERM lets an in-flight request finish and then exits 0.
func TestGracefulShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	db := NewDB(t, slowFixture)
	bin := buildBinary(t)
	port, _ := embedpg.FreePort()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"PGRST_DB_URI="+pg.URI("authenticator", db),
		"PGRST_DB_ANON_ROLE=web_anon",
		"PGRST_DB_SCHEMAS=public",
		"PGRST_SERVER_HOST=127.0.0.1",
		"PGRST_SERVER_PORT="+itoa(port),
	)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	base := "http://127.0.0.1:" + itoa(port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(base + "/items")
		if err == nil && res.StatusCode == 200 {
			res.Body.Close()
			break
		}
		if err == nil {
			res.Body.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("pgrest did not come up: %s", stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	done := make(chan int, 1)
	go func() {
		res, err := http.Get(base + "/slow")
		if err != nil {
			done <- -1
			return
		}
		res.Body.Close()
		done <- res.StatusCode
	}()
	time.Sleep(400 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	if status := <-done; status != 200 {
		t.Fatalf("in-flight request got %d, want 200", status)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("pgrest exited with %v: %s", err, stderr.String())
	}
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// buildBinary builds the pgrest binary once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pgrest-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "pgrest")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/pgrest/pgrest").CombinedOutput()
		if err != nil {
			buildErr = err
			binPath = string(out)
		}
	})
	if buildErr != nil {
		t.Fatalf("go build: %v: %s", buildErr, binPath)
	}
	return binPath
}

func itoa(i int) string { return strconv.Itoa(i) }

// The exposed schema is not usable by the authenticator itself, only by the
// switched role (the usual PostgREST setup, and the demo's).
func TestPrivateSchemaAsSwitchedRole(t *testing.T) {
	db := NewDB(t, `
		CREATE SCHEMA api;
		REVOKE ALL ON SCHEMA public FROM PUBLIC;
		GRANT USAGE ON SCHEMA api TO web_anon;
		CREATE TABLE api.items (id int);
		INSERT INTO api.items VALUES (1);
		GRANT SELECT ON api.items TO web_anon;`)
	p := StartPgrest(t, db, func(c *config.Config) { c.DBSchemas = []string{"api"} })
	p.Get("/items").Expect(t, 200).JSONEq(t, `[{"id":1}]`)
	p.Get("/items?id=eq.1").Expect(t, 200).JSONEq(t, `[{"id":1}]`)
}
