// Package embedpg starts a throwaway PostgreSQL cluster from the machine's
// installed binaries. It serves `pgrest demo` and the integration tests; it
// is not for production use (fsync is off).
package embedpg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is a running throwaway cluster. The superuser is "postgres",
// trusted on loopback.
type Cluster struct {
	Dir     string
	Port    int
	binDir  string
	asUser  string // run binaries as this user ("" = current)
	started bool
}

// ErrNoBinaries is returned when no PostgreSQL server binaries are installed.
var ErrNoBinaries = errors.New("no PostgreSQL server binaries found (looked for initdb and postgres in $PGREST_PG_BIN, /usr/lib/postgresql/*/bin and $PATH); install PostgreSQL, e.g. `apt-get install -y postgresql`")

// FindBinDir locates a directory holding initdb, pg_ctl and postgres.
func FindBinDir() (string, error) {
	var cands []string
	if d := os.Getenv("PGREST_PG_BIN"); d != "" {
		cands = append(cands, d)
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(found))) // newest major first
	cands = append(cands, found...)
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			cands = append(cands, filepath.Dir(real))
		}
	}
	for _, d := range cands {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "pg_ctl")) && isExec(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", ErrNoBinaries
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// FreePort asks the kernel for an unused loopback TCP port.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	return port, l.Close()
}

// Start initializes and starts a cluster in a new temp directory on a free
// port. Extra settings are passed as postgres -c options.
func Start(ctx context.Context, settings map[string]string) (*Cluster, error) {
	bin, err := FindBinDir()
	if err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgrest-pg-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, Port: port, binDir: bin}
	if os.Geteuid() == 0 { // initdb and postgres refuse to run as root
		c.asUser = "postgres"
		if _, err := user.Lookup("postgres"); err != nil {
			_ = os.RemoveAll(dir) // best effort: the error below is the one to report
			return nil, fmt.Errorf("running as root needs a 'postgres' system user to own the cluster: %w", err)
		}
		if out, err := exec.Command("chown", "postgres:", dir).CombinedOutput(); err != nil {
			_ = os.RemoveAll(dir) // best effort: the error below is the one to report
			return nil, fmt.Errorf("chown %s: %v: %s", dir, err, out)
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := c.run(ctx, "initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"); err != nil {
		c.Remove()
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200", port, dir)
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		opts += fmt.Sprintf(" -c %s=%s", k, settings[k])
	}
	if err := c.writeOpts(opts); err != nil {
		c.Remove()
		return nil, err
	}
	if err := c.StartServer(ctx); err != nil {
		c.Remove()
		return nil, err
	}
	return c, nil
}

// writeOpts keeps the server options in the data dir so StartServer can
// restart the same cluster (tests stop and start it to simulate outages).
func (c *Cluster) writeOpts(opts string) error {
	return os.WriteFile(filepath.Join(c.Dir, "opts"), []byte(opts), 0o644)
}

// StartServer starts (or restarts) the postgres server of the cluster.
func (c *Cluster) StartServer(ctx context.Context) error {
	opts, err := os.ReadFile(filepath.Join(c.Dir, "opts"))
	if err != nil {
		return err
	}
	data := filepath.Join(c.Dir, "data")
	logf := filepath.Join(c.Dir, "log")
	if out, err := c.run(ctx, "pg_ctl", "-D", data, "-l", logf, "-o", string(opts), "-w", "-t", "60", "start"); err != nil {
		logTail, _ := os.ReadFile(logf)
		return fmt.Errorf("pg_ctl start: %v: %s\n%s", err, out, tail(logTail, 2000))
	}
	c.started = true
	return nil
}

// StopServer stops the server (fast mode) but keeps the data directory.
func (c *Cluster) StopServer(ctx context.Context) error {
	data := filepath.Join(c.Dir, "data")
	out, err := c.run(ctx, "pg_ctl", "-D", data, "-m", "fast", "-w", "stop")
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %v: %s", err, out)
	}
	c.started = false
	return nil
}

// Remove stops the server if running and deletes the directory.
func (c *Cluster) Remove() {
	if c.started {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		data := filepath.Join(c.Dir, "data")
		// Removal goes on even if the server is already gone.
		_, _ = c.run(ctx, "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
		cancel()
		c.started = false
	}
	_ = os.RemoveAll(c.Dir) // a throwaway temp dir: nothing to do if it lingers
}

// URI is a connection string for db as user (trust auth, no password).
func (c *Cluster) URI(user, db string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", user, c.Port, db)
}

// Exec runs SQL (may hold several statements) as the superuser on db.
func (c *Cluster) Exec(ctx context.Context, db, sql string) error {
	conn, err := pgx.Connect(ctx, c.URI("postgres", db))
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(ctx) }()
	_, err = conn.Exec(ctx, sql)
	return err
}

// CreateDatabase creates a database owned by the superuser.
func (c *Cluster) CreateDatabase(ctx context.Context, name string) error {
	return c.Exec(ctx, "postgres", "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
}

func (c *Cluster) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	path := filepath.Join(c.binDir, name)
	var cmd *exec.Cmd
	if c.asUser != "" {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", c.asUser, "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	cmd.Dir = c.Dir
	var buf bytes.Buffer
	cmd.Stdout = &buf
	cmd.Stderr = &buf
	// pg_ctl keeps the server's stdio; without a pipe close we'd wait forever.
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	return buf.Bytes(), err
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
