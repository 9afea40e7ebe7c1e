package integration

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pgrest/pgrest/embedpg"
	"github.com/pgrest/pgrest/migrations"
	"github.com/pgrest/pgrest/server/config"
)

// pgbouncerBin finds PgBouncer (Debian installs it in /usr/sbin).
func pgbouncerBin() string {
	if p, err := exec.LookPath("pgbouncer"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/pgbouncer"); err == nil {
		return "/usr/sbin/pgbouncer"
	}
	return ""
}

// startPgBouncer runs PgBouncer in transaction pooling mode in front of the
// shared cluster and returns its port.
func startPgBouncer(t *testing.T) int {
	t.Helper()
	bin := pgbouncerBin()
	if bin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("pgbouncer is not installed (.ci/run installs it)")
		}
		t.Skip("pgbouncer is not installed (apt-get install pgbouncer)")
	}
	port, err := embedpg.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	// Not t.TempDir: its parent is private to root, and PgBouncer runs as postgres.
	dir, err := os.MkdirTemp("", "pgrest-bouncer-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ini := fmt.Sprintf(`[databases]
* = host=127.0.0.1 port=%d

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s/users.txt
pool_mode = transaction
default_pool_size = 4
max_client_conn = 200
ignore_startup_parameters = extra_float_digits
logfile = %s/pgbouncer.log
`, pg.Port, port, dir, dir)
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("pgbouncer.ini", ini)
	write("users.txt", `"authenticator" ""`+"\n"+`"postgres" ""`+"\n")
	var cmd *exec.Cmd
	if os.Geteuid() == 0 { // PgBouncer refuses to run as root
		if out, err := exec.Command("chown", "-R", "postgres:", dir).CombinedOutput(); err != nil {
			t.Fatalf("chown: %v %s", err, out)
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd = exec.Command("runuser", "-u", "postgres", "--", bin, filepath.Join(dir, "pgbouncer.ini"))
	} else {
		cmd = exec.Command(bin, filepath.Join(dir, "pgbouncer.ini"))
	}
	// Its own process group: runuser's child must go down with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			return port
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "pgbouncer.log"))
			t.Fatalf("pgbouncer did not start: %v\n%s", err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

const bouncerFixture = `
CREATE TABLE tasks (id serial PRIMARY KEY, title text NOT NULL UNIQUE, done bool NOT NULL DEFAULT false);
INSERT INTO tasks (title) VALUES ('one'), ('two');
GRANT SELECT, INSERT, UPDATE, DELETE ON tasks TO web_anon;
GRANT USAGE ON SEQUENCE tasks_id_seq TO web_anon;
CREATE FUNCTION open_tasks() RETURNS SETOF tasks STABLE LANGUAGE sql AS $$ SELECT * FROM tasks WHERE NOT done ORDER BY id $$;
CREATE FUNCTION whoami_setting() RETURNS text VOLATILE LANGUAGE sql AS $$ SELECT current_setting('request.method') || ' ' || current_user $$;
GRANT EXECUTE ON FUNCTION open_tasks(), whoami_setting() TO web_anon;
CREATE FUNCTION pre() RETURNS void LANGUAGE plpgsql AS $$ BEGIN PERFORM set_config('app.pre', 'yes', true); END $$;
GRANT EXECUTE ON FUNCTION pre() TO web_anon;`

func bouncerURI(port int, db string) string {
	return fmt.Sprintf("postgres://authenticator@127.0.0.1:%d/%s?sslmode=disable", port, db)
}

// Through PgBouncer in transaction pooling mode, with prepared statements
// off, every kind of request works; the schema listener, which needs a
// session, polls instead of LISTENing.
func TestThroughPgBouncer(t *testing.T) {
	port := startPgBouncer(t)
	db := NewDB(t, bouncerFixture)
	migrate(t, db)
	p := StartPgrest(t, db, func(c *config.Config) {
		c.DBURI = bouncerURI(port, db)
		c.DBPreparedStatements = false
		c.DBPreRequest = "pre"
		c.DBPool = 8
	})
	p.Get("/tasks?select=title&order=id").Expect(t, 200).JSONEq(t, `[{"title":"one"},{"title":"two"}]`)
	p.Do("POST", "/tasks", `{"title":"three"}`, "Content-Type: application/json", "Prefer: return=representation").
		Expect(t, 201).JSONEq(t, `[{"id":3,"title":"three","done":false}]`)
	p.Do("POST", "/tasks", `{"title":"three"}`, "Content-Type: application/json").ExpectError(t, 409, "23505")
	p.Do("PATCH", "/tasks?id=eq.1", `{"done":true}`, "Content-Type: application/json").Expect(t, 204)
	p.Get("/rpc/open_tasks?select=title").Expect(t, 200).JSONEq(t, `[{"title":"two"},{"title":"three"}]`)
	p.Do("POST", "/rpc/whoami_setting", "{}", "Content-Type: application/json").Expect(t, 200).JSONEq(t, `"POST web_anon"`)
	res := p.Get("/tasks?select=id", "Prefer: count=exact", "Range: 0-0").Expect(t, 206)
	if cr := res.Header.Get("Content-Range"); cr != "0-0/3" {
		t.Errorf("Content-Range %q", cr)
	}
	p.Do("DELETE", "/tasks?id=eq.3", "").Expect(t, 204)
	p.Do("POST", "/tasks", `{"title":"rolled back"}`, "Content-Type: application/json", "Prefer: tx=rollback").Expect(t, 201)

	// Concurrent requests share the few server connections PgBouncer has.
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 10; j++ {
				r, err := get(p, "/tasks?select=id&id=eq.2")
				if err != nil || r.Status != 200 || string(r.Body) != `[{"id":2}]` {
					errs <- fmt.Sprintf("worker %d: %v %v", i, err, r)
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}

	// A migration is picked up by polling (LISTEN would lose notifications
	// through the pooler).
	SQL(t, db, `ALTER TABLE tasks ADD COLUMN note text`)
	waitForLatestEvent(t, p, db, "the polled migration")
}

// With pgrest-db-listen-uri the listener LISTENs on a direct session while
// requests go through PgBouncer.
func TestPgBouncerWithListenURI(t *testing.T) {
	port := startPgBouncer(t)
	db := NewDB(t, bouncerFixture)
	migrate(t, db)
	p := StartPgrest(t, db, func(c *config.Config) {
		c.DBURI = bouncerURI(port, db)
		c.DBPreparedStatements = false
		c.ListenURI = pg.URI("authenticator", db)
	})
	p.Get("/tasks?select=title&limit=1").Expect(t, 200)
	SQL(t, db, `ALTER TABLE tasks ADD COLUMN due date`)
	waitForLatestEvent(t, p, db, "the LISTENed migration")
	if st := p.App.Schema().Stats(); st.Behind {
		t.Errorf("listener behind: %+v", st)
	}
}

// waitForLatestEvent waits until p serves the event log's newest version.
func waitForLatestEvent(t *testing.T, p *Pgrest, db, what string) {
	t.Helper()
	latest, _, err := migrations.LatestEventID(context.Background(), superConn(t, db))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, what, func() bool { return p.App.Holder().Load().Version >= latest })
}
