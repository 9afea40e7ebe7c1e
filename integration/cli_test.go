package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgrest/pgrest/server/config"
)

func runCLI(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(buildBinary(t), args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// C1, C3: the CLI, configuration errors exit 1 naming the key.
func TestCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	if out, _, code := runCLI(t, nil, "--help"); code != 0 || !strings.Contains(out, "Usage") {
		t.Fatalf("--help: %d %s", code, out)
	}
	if out, _, code := runCLI(t, nil, "--version"); code != 0 || !strings.Contains(out, "pgrest") {
		t.Fatalf("--version: %d %s", code, out)
	}
	out, _, code := runCLI(t, nil, "--example")
	if code != 0 {
		t.Fatalf("--example exit %d", code)
	}
	if _, err := config.Parse(out, nil); err != nil {
		t.Fatalf("--example output does not parse: %v", err)
	}

	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.conf")
	os.WriteFile(bad, []byte("db-pool = \"ten\"\n"), 0o644)
	if _, stderr, badCode := runCLI(t, nil, bad); badCode != 1 || !strings.Contains(stderr, "db-pool") || !strings.Contains(stderr, "ten") {
		t.Fatalf("bad file value: exit %d, stderr %q", badCode, stderr)
	}
	if _, stderr, envCode := runCLI(t, []string{"PGRST_DB_TX_END=bogus"}); envCode != 1 || !strings.Contains(stderr, "db-tx-end") {
		t.Fatalf("bad env value: exit %d, stderr %q", envCode, stderr)
	}

	good := filepath.Join(dir, "good.conf")
	os.WriteFile(good, []byte("db-uri = \"postgres://file@localhost/db\"\ndb-pool = 3\nserver-port = 3100\n"), 0o644)
	out, stderr, code := runCLI(t, []string{"PGRST_SERVER_PORT=3200"}, "--dump-config", good)
	if code != 0 {
		t.Fatalf("--dump-config: exit %d: %s", code, stderr)
	}
	for _, want := range []string{`db-uri = "postgres://file@localhost/db"`, "db-pool = 3", "server-port = 3200"} {
		if !strings.Contains(out, want) {
			t.Errorf("--dump-config lacks %q:\n%s", want, out)
		}
	}
	if _, _, code := runCLI(t, nil, "--no-such-flag"); code != 1 {
		t.Errorf("unknown flag: exit %d", code)
	}
}

// C3: --dump-schema prints the schema cache as JSON.
func TestDumpSchema(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	db := NewDB(t, `CREATE TABLE parent (id int PRIMARY KEY); CREATE TABLE child (id int, parent_id int REFERENCES parent(id));`)
	out, stderr, code := runCLI(t, []string{"PGRST_DB_URI=" + pg.URI("postgres", db)}, "--dump-schema")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{`"tableName":"child"`, `"relCardinality":{"tag":"M2O"`, `"dbRelationships"`} {
		if !strings.Contains(out, want) {
			t.Errorf("--dump-schema lacks %s", want)
		}
	}
}
