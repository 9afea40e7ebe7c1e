package integration

import (
	"bufio"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/pgrest/pgrest/embedpg"
)

// Killing the process that started the demo (as when `go run . demo` is
// killed) stops the demo server and removes its PostgreSQL cluster.
func TestDemoStopsWithItsParent(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts a cluster")
	}
	port, err := embedpg.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	// "; true" keeps the shell as the demo's parent instead of exec'ing it.
	parent := exec.Command("sh", "-c", buildBinary(t)+" demo; true")
	parent.Env = append(os.Environ(), "PGRST_SERVER_PORT="+strconv.Itoa(port), "PGRST_LOG_LEVEL=error")
	stdout, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	dir := ""
	sc := bufio.NewScanner(stdout)
	dirRe := regexp.MustCompile(`^in (/\S+), removed on exit`)
	for sc.Scan() {
		if m := dirRe.FindStringSubmatch(sc.Text()); m != nil {
			dir = m[1]
		}
		if regexp.MustCompile(`Press Ctrl-C`).MatchString(sc.Text()) {
			break
		}
	}
	if dir == "" {
		t.Fatal("the demo did not say where its cluster lives")
	}
	go func() {
		for sc.Scan() {
		}
	}()
	if err := parent.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = parent.Wait()
	// The demo shuts down and removes its cluster's directory (the cluster
	// is stopped first). Ports are not checked: another test may reuse them.
	deadline := time.Now().Add(45 * time.Second) // a bound on the test, not a target
	for {
		if _, err := os.Stat(dir); os.IsNotExist(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still exists after the demo's parent was killed", dir)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
