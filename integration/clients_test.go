package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgrest/pgrest/server"
	"github.com/pgrest/pgrest/server/config"
	"github.com/rs/zerolog"
)

// The client tests run real clients (postgrest-js, Swagger UI in Chromium)
// from integration/clients/js against pgrest. Their npm packages are pinned
// in package-lock.json and installed once into node_modules there; a hash
// of the lock file marks the install, so later runs skip npm.
const clientsDir = "clients/js"

// needTool returns the path of a client-test tool. Missing tools skip the
// test on a developer machine but fail it in CI, where .ci/run installs them.
func needTool(t *testing.T, name string, candidates ...string) string {
	t.Helper()
	for _, c := range append([]string{name}, candidates...) {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed (CI=true: .ci/run installs it)", name)
	}
	t.Skipf("%s is not installed", name)
	return ""
}

var (
	npmOnce sync.Once
	npmErr  error
	npmOut  []byte
)

// npmInstall runs `npm ci` in the client directory unless node_modules
// already holds this package-lock.json's install.
func npmInstall(t *testing.T) {
	t.Helper()
	node := needTool(t, "node")
	npm := needTool(t, "npm")
	out, err := exec.Command(node, "-p", "process.versions.node.split('.')[0]").Output()
	if major, _ := strconv.Atoi(string(bytes.TrimSpace(out))); err != nil || major < 18 {
		t.Fatalf("node 18 or later is needed (node:test, fetch): %q %v", out, err)
	}
	npmOnce.Do(func() {
		lock, err := os.ReadFile(filepath.Join(clientsDir, "package-lock.json"))
		if err != nil {
			npmErr = err
			return
		}
		sum := sha256.Sum256(lock)
		stamp := filepath.Join(clientsDir, "node_modules", ".pgrest-lock-sha256")
		want := []byte(hex.EncodeToString(sum[:]))
		if have, err := os.ReadFile(stamp); err == nil && bytes.Equal(have, want) {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts")
		cmd.Dir = clientsDir
		if npmOut, npmErr = cmd.CombinedOutput(); npmErr == nil {
			npmErr = os.WriteFile(stamp, want, 0o644)
		}
	})
	if npmErr != nil {
		t.Fatalf("npm ci: %v\n%s", npmErr, npmOut)
	}
}

// startClientFixture serves the client fixture (schemas api and archive).
func startClientFixture(t *testing.T, mod func(*config.Config)) *Pgrest {
	t.Helper()
	return StartPgrest(t, clientFixtureDB(t), func(c *config.Config) {
		c.DBSchemas = []string{"api", "archive"}
		c.DBPlanEnabled = true
		c.DBAggregatesEnabled = true
		c.DBTxEnd = "commit-allow-override" // lets rollback() ask for tx=rollback
		if mod != nil {
			mod(c)
		}
	})
}

// clientFixtureDB creates a database loaded with the client fixture.
func clientFixtureDB(t *testing.T) string {
	t.Helper()
	fixture, err := os.ReadFile(filepath.Join(clientsDir, "fixture.sql"))
	if err != nil {
		t.Fatal(err)
	}
	return NewDB(t, string(fixture))
}

// runNode runs a node test script of the client directory with env added.
func runNode(t *testing.T, script string, env ...string) {
	t.Helper()
	node := needTool(t, "node")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "--test-reporter=spec", script)
	cmd.Dir = clientsDir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil || testing.Verbose() {
		t.Logf("node %s:\n%s", script, out)
	}
	if err != nil {
		t.Fatalf("node %s: %v", script, err)
	}
}

// postgrest-js, the client supabase-js uses, through its public API.
func TestClientPostgrestJS(t *testing.T) {
	npmInstall(t)
	p := startClientFixture(t, nil)
	jwt := token(t, map[string]any{"role": "test_user", "sub": "alice", "exp": time.Now().Add(time.Hour).Unix()})
	expired := token(t, map[string]any{"role": "test_user", "exp": time.Now().Add(-time.Hour).Unix()})
	runNode(t, "postgrest.test.mjs", "PGREST_URL="+p.URL, "PGREST_JWT="+jwt, "PGREST_EXPIRED_JWT="+expired)
}

// Swagger UI in headless Chromium: it renders pgrest's OpenAPI document
// (2.0, and 3.1 by PostgREST's Accept) without errors, lists every table,
// view and function the anonymous role may use, and "Try it out" runs a GET.
func TestClientSwaggerUI(t *testing.T) {
	npmInstall(t)
	browser := needTool(t, "chromium", "/usr/bin/chromium", "chromium-browser")
	p := startClientFixtureOpenAPI(t)
	paths := []string{"/authors", "/author_profiles", "/books", "/reviews", "/shelves", "/book_shelves", "/staff",
		"/exhibitions", "/book_ratings", "/rpc/search_books", "/rpc/add_numbers", "/rpc/whoami", "/rpc/count_tags"}
	runNode(t, "swagger.test.mjs", "PGREST_URL="+p.URL, "CHROMIUM="+browser, "EXPECT_PATHS="+strings.Join(paths, ","))
}

// startClientFixtureOpenAPI serves the client fixture on a listener
// opened first, so openapi-server-proxy-uri can name it and the requests
// Swagger UI builds from the document reach this server.
func startClientFixtureOpenAPI(t *testing.T) *Pgrest {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	cfg := BaseConfig(clientFixtureDB(t))
	cfg.DBSchemas = []string{"api", "archive"}
	cfg.OpenAPIServerProxyURI = url
	app, err := server.New(cfg, zerolog.New(io.Discard))
	if err != nil {
		l.Close()
		t.Fatalf("server.New: %v", err)
	}
	app.Start()
	go app.Serve(l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		app.Shutdown(ctx)
	})
	p := &Pgrest{URL: url, App: app, Config: cfg, t: t, Client: &http.Client{Timeout: time.Minute}}
	p.WaitReady()
	return p
}
