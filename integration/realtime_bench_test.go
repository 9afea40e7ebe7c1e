package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pgrest/pgrest/embedpg"
)

// TestRealtimeBenchmark measures a pgrest process (the built binary, so
// the clients' memory does not count): the RSS 1,000 idle subscriptions
// add, then commit-to-event latency and events delivered per second with
// 100 subscribers while 1,000 rows a second are inserted. It loads the
// machine for about half a minute, so it runs only when asked:
//
//	PGREST_REALTIME_BENCH=1 go test ./integration -run TestRealtimeBenchmark -v
func TestRealtimeBenchmark(t *testing.T) {
	if os.Getenv("PGREST_REALTIME_BENCH") == "" {
		t.Skip("set PGREST_REALTIME_BENCH=1 to measure realtime latency and memory")
	}
	db, slot := realtimeDB(t, `
CREATE TABLE ticks (id bigserial PRIMARY KEY, t float8 NOT NULL DEFAULT extract(epoch from clock_timestamp()));
GRANT SELECT ON ticks TO web_anon;`)
	port, _ := embedpg.FreePort()
	cmd := exec.Command(buildBinary(t))
	cmd.Env = append(os.Environ(),
		"PGRST_DB_URI="+pg.URI("authenticator", db), "PGRST_DB_ANON_ROLE=web_anon", "PGRST_DB_SCHEMAS=public",
		"PGRST_SERVER_HOST=127.0.0.1", "PGRST_SERVER_PORT="+itoa(port), "PGRST_LOG_LEVEL=error",
		"PGRST_PGREST_REALTIME_SLOT_PREFIX="+slot, "PGRST_PGREST_REALTIME_BUFFER=20000",
	)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	addr := "127.0.0.1:" + itoa(port)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if res, err := http.Get("http://" + addr + "/ticks?limit=0"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("pgrest did not come up")
		}
	}
	// The first subscription starts the stream; measure idle after it.
	first, _ := openStream(t, addr, "/ticks?select=id")
	defer first.Close()
	time.Sleep(500 * time.Millisecond)
	idle := procKB(t, cmd.Process.Pid, "VmRSS")
	var conns []net.Conn
	for i := 0; i < 1000; i++ {
		c, _ := openStream(t, addr, "/ticks?select=id,t")
		conns = append(conns, c)
	}
	time.Sleep(time.Second)
	withSubs := procKB(t, cmd.Process.Pid, "VmRSS")
	t.Logf("RSS: idle %.1f MB, with 1,000 idle subscriptions %.1f MB: %.1f MB (%.1f KB each)",
		float64(idle)/1024, float64(withSubs)/1024, float64(withSubs-idle)/1024, float64(withSubs-idle)/1000)
	for _, c := range conns {
		c.Close()
	}

	const subscribers, rate, seconds = 100, 1000, 5
	var mu sync.Mutex
	var lat []float64
	var got atomic.Int64
	var wg sync.WaitGroup
	var streams []net.Conn
	for i := 0; i < subscribers; i++ {
		c, body := openStream(t, addr, "/ticks?select=id,t")
		streams = append(streams, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc := bufio.NewScanner(body)
			var mine []float64
			for n := 0; n < rate*seconds && sc.Scan(); {
				line := sc.Text()
				if !strings.HasPrefix(line, "data: ") {
					continue
				}
				var row struct{ T float64 }
				if json.Unmarshal([]byte(line[6:]), &row) == nil && row.T > 0 {
					now := float64(time.Now().UnixMicro()) / 1e6
					mine = append(mine, now-row.T)
					got.Add(1)
					n++
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	time.Sleep(500 * time.Millisecond)
	ctx := context.Background()
	w, err := pgx.Connect(ctx, pg.URI("postgres", db))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(ctx)
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond) // 100 transactions of 10 rows a second
	for i := 0; i < rate*seconds/10; i++ {
		<-tick.C
		if _, err := w.Exec(ctx, "INSERT INTO ticks SELECT FROM generate_series(1, 10)"); err != nil {
			t.Fatal(err)
		}
	}
	tick.Stop()
	insertFor := time.Since(start)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Log("not every event arrived within 60s")
	}
	took := time.Since(start)
	for _, c := range streams {
		c.Close()
	}
	<-done
	mu.Lock()
	sort.Float64s(lat)
	n := len(lat)
	mu.Unlock()
	if n == 0 {
		t.Fatal("no events")
	}
	t.Logf("%d subscribers, %d rows/s for %v: %d events in %v (%.0f events/s delivered); commit-to-event p50 %.1f ms, p99 %.1f ms, max %.1f ms",
		subscribers, rate, insertFor.Round(time.Millisecond), got.Load(), took.Round(time.Millisecond), float64(got.Load())/took.Seconds(),
		lat[n/2]*1000, lat[n*99/100]*1000, lat[n-1]*1000)
}

// openStream opens a subscription on a connection of its own and returns
// the connection and the (de-chunked) event stream.
func openStream(t *testing.T, addr, path string) (net.Conn, io.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
	req.Header.Set("Accept", "text/event-stream")
	if err = req.Write(c); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(c), req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("subscribe: %v %v", err, res)
	}
	return c, res.Body
}
