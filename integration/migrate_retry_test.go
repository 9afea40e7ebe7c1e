package integration

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/pgrest/pgrest/embedpg"
)

// `pgrest migrate` started before PostgreSQL accepts connections (as in a
// fresh docker compose volume) waits for it instead of failing; a refused
// login is still final.
func TestMigrateWaitsForTheDatabase(t *testing.T) {
	if testing.Short() {
		t.Skip("starts its own cluster")
	}
	ctx := context.Background()
	c, err := embedpg.Start(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Remove)
	if err := c.StopServer(ctx); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(buildBinary(t), "migrate")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "PGRST_DB_URI=" + c.URI("postgres", "postgres")}
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	if err := c.StartServer(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("migrate: %v\nstdout: %s\nstderr: %s", err, out.String(), errb.String())
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("migrate did not finish\nstderr: %s", errb.String())
	}
	if !strings.Contains(errb.String(), "retrying") || !strings.Contains(out.String(), "applied") {
		t.Errorf("expected a retry and an applied migration\nstdout: %s\nstderr: %s", out.String(), errb.String())
	}

	// A role that does not exist is an answer, not an outage: exit 1 at once.
	_, stderr, code := runCLI(t, []string{"PGRST_DB_URI=" + c.URI("nobody_here", "postgres")}, "migrate")
	if code != 1 || strings.Contains(stderr, "retrying") {
		t.Errorf("migrate with a missing role: exit %d, stderr %s", code, stderr)
	}
}
