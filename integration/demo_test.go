package integration

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgrest/pgrest/embedpg"
)

// The README's first command: `pgrest demo` starts its own PostgreSQL,
// serves the demo schema and prints curl examples that work.
func TestDemo(t *testing.T) {
	port, err := embedpg.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(buildBinary(t), "demo")
	cmd.Env = append(os.Environ(), "PGRST_SERVER_PORT="+strconv.Itoa(port), "PGRST_LOG_LEVEL=error")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err = cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
		}
	})
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var curls []string
	deadline := time.After(60 * time.Second)
	for done := false; !done; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("demo exited before serving")
			}
			if strings.Contains(l, "curl ") {
				curls = append(curls, l)
			}
			done = strings.Contains(l, "Press Ctrl-C")
		case <-deadline:
			t.Fatal("demo did not start within 60s")
		}
	}
	go io.Copy(io.Discard, stdout)
	if len(curls) < 3 {
		t.Fatalf("expected curl examples, got %q", curls)
	}
	urlRe := regexp.MustCompile(`'(http://[^']+)'`)
	hdrRe := regexp.MustCompile(`-H '([^']+)'`)
	dataRe := regexp.MustCompile(`-d '([^']+)'`)
	for _, c := range curls {
		m := urlRe.FindStringSubmatch(c)
		if m == nil {
			t.Fatalf("no URL in %q", c)
		}
		req, _ := http.NewRequest("GET", m[1], nil)
		if d := dataRe.FindStringSubmatch(c); d != nil {
			req, _ = http.NewRequest("POST", m[1], strings.NewReader(d[1]))
		}
		for _, h := range hdrRe.FindAllStringSubmatch(c, -1) {
			k, v, _ := strings.Cut(h[1], ":")
			req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
		}
		var res *http.Response
		for i := 0; i < 100; i++ { // the schema cache may still be loading
			if res, err = http.DefaultClient.Do(req); err == nil && res.StatusCode != http.StatusServiceUnavailable {
				break
			}
			if res != nil {
				res.Body.Close()
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		if strings.Contains(c, "text/event-stream") { // a realtime stream never ends by itself
			res.Body.Close()
			if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" {
				t.Errorf("%s: %d %s", c, res.StatusCode, res.Header.Get("Content-Type"))
			}
			continue
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusPartialContent || len(body) < 3 || strings.Contains(string(body), `"code"`) {
			t.Errorf("%s: %d %s", c, res.StatusCode, body)
		}
	}
}
