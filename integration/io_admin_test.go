package integration

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// /metrics is text/plain; charset=utf-8 with every value written as
// PostgREST's Haskell client writes it ("1.0"); the internal query sleep
// slows the load in the database, and the load reports its query time.
func TestIOMetricsAndQueryTime(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	db := NewDB(t, "")
	admin := freePort(t)
	p := startProc(t, append(baseEnv(db), "PGRST_SERVER_PORT="+freePort(t), "PGRST_ADMIN_SERVER_PORT="+admin,
		"PGRST_INTERNAL_SCHEMA_CACHE_QUERY_SLEEP=300")...)
	p.waitLog(t, `Schema cache loaded in`)
	m := regexp.MustCompile(`Schema cache queried in ([0-9]+\.[0-9]) milliseconds`).FindStringSubmatch(p.stderr.String())
	if m == nil {
		t.Fatalf("no query time logged:\n%s", p.stderr.String())
	}
	if ms, _ := strconv.ParseFloat(m[1], 64); ms < 300 {
		t.Errorf("queried in %s ms despite a 300 ms sleep", m[1])
	}
	var body string
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, err := http.Get("http://127.0.0.1:" + admin + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(r.Body)
			r.Body.Close()
			body = string(b)
			if ct := r.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
				t.Fatalf("Content-Type %q", ct)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, re := range []string{`(?m)^pgrst_schema_cache_loads_total\{status="SUCCESS"\} 1\.0$`, `(?m)^pgrst_db_pool_max 10\.0$`} {
		if !regexp.MustCompile(re).MatchString(body) {
			t.Errorf("want %s in\n%s", re, body)
		}
	}
}

// server-host = "*6" prefers IPv6 but takes IPv4 too (a dual-stack
// socket, as warp binds it); the admin server follows server-host.
func TestIOAnyHostIPv6PreferredTakesIPv4(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	db := NewDB(t, "")
	admin := freePort(t)
	p := startProc(t, append(baseEnv(db), "PGRST_SERVER_HOST=*6", "PGRST_SERVER_PORT="+freePort(t), "PGRST_ADMIN_SERVER_PORT="+admin)...)
	p.waitLog(t, `Schema cache loaded in`)
	r, err := http.Get("http://127.0.0.1:" + admin + "/live")
	if err != nil {
		t.Fatalf("IPv4 to a *6 admin server: %v", err)
	}
	r.Body.Close()
	if r.StatusCode != 200 {
		t.Errorf("/live: %d", r.StatusCode)
	}
}
