package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pgrest/pgrest/server/config"
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
	needTool(t, "node")
	npm := needTool(t, "npm")
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
	fixture, err := os.ReadFile(filepath.Join(clientsDir, "fixture.sql"))
	if err != nil {
		t.Fatal(err)
	}
	db := NewDB(t, string(fixture))
	return StartPgrest(t, db, func(c *config.Config) {
		c.DBSchemas = []string{"api", "archive"}
		c.DBPlanEnabled = true
		c.DBAggregatesEnabled = true
		if mod != nil {
			mod(c)
		}
	})
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
	runNode(t, "postgrest.test.mjs", "PGREST_URL="+p.URL, "PGREST_JWT="+jwt)
}
