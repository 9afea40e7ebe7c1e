package integration

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgrest/pgrest/embedpg"
)

// TestMemoryLargeBodies measures the peak RSS of a pgrest process (the
// built binary, so the client's own buffers do not count) for a large
// POST, a large GET and four concurrent GETs. It takes a minute and
// loads two million rows, so it runs only when PGREST_MEMORY_BENCH is set:
//
//	PGREST_MEMORY_BENCH=1 go test ./integration -run TestMemoryLargeBodies -v
func TestMemoryLargeBodies(t *testing.T) {
	if os.Getenv("PGREST_MEMORY_BENCH") == "" {
		t.Skip("set PGREST_MEMORY_BENCH=1 to measure memory on large bodies")
	}
	db := NewDB(t, `
CREATE TABLE items (id int PRIMARY KEY, name text, qty int, note text);
INSERT INTO items SELECT i, 'item ' || i, i % 1000, 'note text ' || i FROM generate_series(1, 1000000) i;
CREATE TABLE sink (id int, name text, qty int, note text);
GRANT SELECT ON items TO web_anon;
GRANT SELECT, INSERT ON sink TO web_anon;
`)
	var post bytes.Buffer
	post.WriteByte('[')
	for i := 1; i <= 900000; i++ {
		if i > 1 {
			post.WriteByte(',')
		}
		fmt.Fprintf(&post, `{"id":%d,"name":"item %d","qty":%d,"note":"note %d"}`, i, i, i%1000, i)
	}
	post.WriteByte(']')
	body := post.Bytes()

	measure(t, db, "POST 900k rows", func(base string) int64 {
		res, err := http.Post(base+"/sink", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 201 {
			t.Fatalf("POST: %d", res.StatusCode)
		}
		return int64(len(body))
	})
	get := func(base string) int64 {
		res, err := http.Get(base + "/items")
		if err != nil {
			t.Error(err)
			return 0
		}
		defer res.Body.Close()
		n, _ := io.Copy(io.Discard, res.Body)
		if res.StatusCode != 200 {
			t.Errorf("GET: %d", res.StatusCode)
		}
		return n
	}
	measure(t, db, "GET 1M rows", get)
	measure(t, db, "4 concurrent GETs", func(base string) int64 {
		var wg sync.WaitGroup
		sizes := make([]int64, 4)
		for i := range sizes {
			wg.Add(1)
			go func() { defer wg.Done(); sizes[i] = get(base) }()
		}
		wg.Wait()
		return sizes[0]
	})
}

// measure starts a fresh pgrest process, runs one scenario against it and
// logs the peak RSS above idle, in MB and as a multiple of the body size.
func measure(t *testing.T, db, name string, run func(base string) int64) {
	t.Helper()
	port, _ := embedpg.FreePort()
	cmd := exec.Command(buildBinary(t))
	cmd.Env = append(os.Environ(),
		"PGRST_DB_URI="+pg.URI("authenticator", db),
		"PGRST_DB_ANON_ROLE=web_anon",
		"PGRST_DB_SCHEMAS=public",
		"PGRST_SERVER_HOST=127.0.0.1",
		"PGRST_SERVER_PORT="+itoa(port),
		"PGRST_LOG_LEVEL=error",
	)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	base := "http://127.0.0.1:" + itoa(port)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if res, err := http.Get(base + "/sink?limit=0"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("pgrest did not come up")
		}
	}
	time.Sleep(200 * time.Millisecond)
	idle := procKB(t, cmd.Process.Pid, "VmRSS")
	t0 := time.Now()
	size := run(base)
	took := time.Since(t0)
	peak := procKB(t, cmd.Process.Pid, "VmHWM")
	above := float64(peak-idle) / 1024
	t.Logf("%s: body %.1f MB, idle %.1f MB, peak %.1f MB, above idle %.1f MB (%.2fx body), %v",
		name, float64(size)/(1<<20), float64(idle)/1024, float64(peak)/1024, above, above*(1<<20)/float64(size), took.Round(time.Millisecond))
}

// procKB reads a kB field of /proc/<pid>/status.
func procKB(t *testing.T, pid int, field string) int64 {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}
