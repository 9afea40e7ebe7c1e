// Package integration drives pgrest end to end: a real PostgreSQL cluster
// (one per `go test` run), pgrest in-process on a free port, real HTTP.
//
// Every test that needs data calls NewDB with its own fixture, so tests are
// isolated by database. Roles are cluster-wide and created once in TestMain:
//
//	authenticator  LOGIN NOINHERIT, the role pgrest connects as
//	web_anon       the anonymous role (db-anon-role)
//	test_user      an authenticated role (JWT role claim "test_user")
//	other_user     a second authenticated role
//
// Fixtures run as the superuser "postgres" and must GRANT what the roles need.
package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pgrest/pgrest/embedpg"
	"github.com/pgrest/pgrest/server"
	"github.com/pgrest/pgrest/server/config"
	"github.com/rs/zerolog"
)

// JWTSecret is the jwt-secret every test server gets by default.
const JWTSecret = "reallyreallyreallyreallyverysafe-pgrest-tests"

var pg *embedpg.Cluster

func TestMain(m *testing.M) {
	ctx := context.Background()
	var err error
	// wal_level=logical: realtime tests stream changes (realtime_test.go).
	pg, err = embedpg.Start(ctx, map[string]string{"max_connections": "300", "wal_level": "logical", "max_replication_slots": "40", "max_wal_senders": "40"})
	if err != nil {
		fmt.Fprintf(os.Stderr, "integration: starting PostgreSQL: %v\n", err)
		os.Exit(1)
	}
	err = pg.Exec(ctx, "postgres", `
		CREATE ROLE authenticator LOGIN NOINHERIT;
		CREATE ROLE web_anon NOLOGIN;
		CREATE ROLE test_user NOLOGIN;
		CREATE ROLE other_user NOLOGIN;
		GRANT web_anon, test_user, other_user TO authenticator;`)
	if err != nil {
		pg.Remove()
		fmt.Fprintf(os.Stderr, "integration: creating roles: %v\n", err)
		os.Exit(1)
	}
	code := m.Run()
	pg.Remove()
	os.Exit(code)
}

var dbSeq atomic.Int64

var nonIdent = regexp.MustCompile(`[^a-z0-9_]+`)

// NewDB creates a database for this test, loads fixture into it as the
// superuser, and drops it when the test ends. It returns the database name.
func NewDB(t testing.TB, fixture string) string {
	t.Helper()
	name := nonIdent.ReplaceAllString(strings.ToLower(t.Name()), "_")
	if len(name) > 40 {
		name = name[:40]
	}
	name = fmt.Sprintf("t%d_%s", dbSeq.Add(1), name)
	ctx := context.Background()
	if err := pg.CreateDatabase(ctx, name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		pg.Exec(context.Background(), "postgres", "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})
	if fixture != "" {
		if err := pg.Exec(ctx, name, fixture); err != nil {
			t.Fatalf("load fixture: %v", err)
		}
	}
	return name
}

// SQL runs statements as the superuser in db (for DDL during a test).
func SQL(t testing.TB, db, sql string) {
	t.Helper()
	if err := pg.Exec(context.Background(), db, sql); err != nil {
		t.Fatalf("SQL %q: %v", sql, err)
	}
}

// Pgrest is a pgrest server running in-process for one test.
type Pgrest struct {
	URL    string
	App    *server.App
	Config *config.Config
	Client *http.Client
	t      testing.TB
}

// BaseConfig is the configuration StartPgrest begins from.
func BaseConfig(db string) *config.Config {
	cfg := config.Default()
	cfg.DBURI = pg.URI("authenticator", db)
	cfg.DBSchemas = []string{"public"}
	cfg.DBAnonRole = "web_anon"
	cfg.JWTSecret = JWTSecret
	cfg.DBPool = 10
	cfg.DBPoolAcquisitionTimeout = 10 * time.Second
	cfg.LogLevel = "error"
	return cfg
}

// StartPgrest serves db with the test configuration, adjusted by mod
// (may be nil), and waits until the schema cache is loaded.
func StartPgrest(t testing.TB, db string, mod func(*config.Config)) *Pgrest {
	t.Helper()
	cfg := BaseConfig(db)
	if mod != nil {
		mod(cfg)
	}
	p := StartPgrestConfig(t, cfg)
	p.WaitReady()
	return p
}

// StartPgrestConfig starts pgrest without waiting for the schema cache
// (for tests of a database that is down at start).
func StartPgrestConfig(t testing.TB, cfg *config.Config) *Pgrest {
	t.Helper()
	logw := io.Discard
	if os.Getenv("PGREST_TEST_LOG") != "" {
		logw = os.Stderr
	}
	return startLogging(t, cfg, logw)
}

// startLogging starts pgrest with its log going to logw.
func startLogging(t testing.TB, cfg *config.Config, logw io.Writer) *Pgrest {
	t.Helper()
	app, err := server.New(cfg, zerolog.New(logw))
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app.Start()
	go app.Serve(l)
	p := &Pgrest{
		URL: "http://" + l.Addr().String(), App: app, Config: cfg, t: t,
		Client: &http.Client{Timeout: 60 * time.Second},
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		app.Shutdown(ctx)
	})
	return p
}

// WaitReady waits until the first schema snapshot is published.
func (p *Pgrest) WaitReady() {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, ok := p.App.Holder().WaitVersion(ctx, -1<<62); !ok {
		p.t.Fatal("pgrest did not load the schema cache within 30s")
	}
}

// Resp is a fully read HTTP response.
type Resp struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends a request. headers are "Name: value" strings.
func (p *Pgrest) Do(method, path, body string, headers ...string) *Resp {
	p.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, p.URL+path, rd)
	if err != nil {
		p.t.Fatal(err)
	}
	for _, h := range headers {
		k, v, ok := strings.Cut(h, ":")
		if !ok {
			p.t.Fatalf("bad header %q", h)
		}
		req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	res, err := p.Client.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		p.t.Fatal(err)
	}
	return &Resp{Status: res.StatusCode, Header: res.Header, Body: b}
}

// Get is Do("GET", ...).
func (p *Pgrest) Get(path string, headers ...string) *Resp { return p.Do("GET", path, "", headers...) }

// JSON decodes the body.
func (r *Resp) JSON(t testing.TB) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, r.Body)
	}
	return v
}

// Expect fails the test unless the status matches.
func (r *Resp) Expect(t testing.TB, status int) *Resp {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d; body: %s", r.Status, status, r.Body)
	}
	return r
}

// ExpectError checks status and the PostgREST error code of the body.
func (r *Resp) ExpectError(t testing.TB, status int, code string) map[string]any {
	t.Helper()
	r.Expect(t, status)
	m, ok := r.JSON(t).(map[string]any)
	if !ok {
		t.Fatalf("error body is not an object: %s", r.Body)
	}
	for _, k := range []string{"code", "message", "details", "hint"} {
		if _, ok := m[k]; !ok {
			t.Fatalf("error body lacks %q: %s", k, r.Body)
		}
	}
	if m["code"] != code {
		t.Fatalf("error code %v, want %s; body: %s", m["code"], code, r.Body)
	}
	return m
}

// JSONEq fails unless the body equals want (compared as JSON values).
func (r *Resp) JSONEq(t testing.TB, want string) {
	t.Helper()
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want JSON: %v", err)
	}
	got := r.JSON(t)
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(w)
	if string(gb) != string(wb) {
		t.Fatalf("body\n got: %s\nwant: %s", gb, wb)
	}
}

// underLoad runs fn over and over in n goroutines until the returned stop
// is called; stop waits for them to finish.
func underLoad(n int, fn func()) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				fn()
			}
		}()
	}
	return func() { close(done); wg.Wait() }
}
