package integration

import (
	"bufio"
	"net"
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
	pgPort := ""
	sc := bufio.NewScanner(stdout)
	pgRe := regexp.MustCompile(`PostgreSQL on 127\.0\.0\.1:([0-9]+)`)
	for sc.Scan() {
		if m := pgRe.FindStringSubmatch(sc.Text()); m != nil {
			pgPort = m[1]
		}
		if regexp.MustCompile(`Press Ctrl-C`).MatchString(sc.Text()) {
			break
		}
	}
	if pgPort == "" {
		t.Fatal("the demo did not say where PostgreSQL listens")
	}
	go func() {
		for sc.Scan() {
		}
	}()
	if err := parent.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = parent.Wait()
	for _, addr := range []string{"127.0.0.1:" + strconv.Itoa(port), "127.0.0.1:" + pgPort} {
		deadline := time.Now().Add(30 * time.Second) // a bound on the test, not a target
		for {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err != nil {
				break
			}
			c.Close()
			if time.Now().After(deadline) {
				t.Fatalf("%s still accepts connections after the demo's parent was killed", addr)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}
