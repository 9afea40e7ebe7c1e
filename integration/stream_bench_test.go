package integration

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestMemoryStreams measures streamed responses and bulk loads on the
// built binary: peak RSS above idle, time to first byte and throughput,
// each against psql's \copy of the same query or file in the same run.
// It loads millions of rows, so it runs only when asked:
//
//	PGREST_MEMORY_BENCH=1 go test ./integration -run TestMemoryStreams -v
//
// PGREST_BENCH_ROWS sets the export's row count (10,000,000 by default).
func TestMemoryStreams(t *testing.T) {
	if os.Getenv("PGREST_MEMORY_BENCH") == "" {
		t.Skip("set PGREST_MEMORY_BENCH=1 to measure streams")
	}
	rows := 10_000_000
	if n, err := strconv.Atoi(os.Getenv("PGREST_BENCH_ROWS")); err == nil {
		rows = n
	}
	db := NewDB(t, fmt.Sprintf(`
CREATE TABLE items (id int PRIMARY KEY, name text, qty int, note text);
INSERT INTO items SELECT i, 'item ' || i, i %% 1000, 'note text ' || i FROM generate_series(1, %d) i;
CREATE TABLE sink (id int PRIMARY KEY, name text, qty int, note text);
GRANT SELECT ON items TO web_anon;
GRANT SELECT, INSERT ON sink TO web_anon;
`, rows))
	psql := filepath.Join(mustBinDir(t), "psql")

	measure(t, db, "NDJSON export", func(base string) int64 {
		req, _ := http.NewRequest("GET", base+"/items?order=id", nil)
		req.Header.Set("Accept", "application/x-ndjson")
		t0 := time.Now()
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		br := bufio.NewReaderSize(res.Body, 1<<20)
		if _, err = br.ReadByte(); err != nil {
			t.Fatal(err)
		}
		ttfb := time.Since(t0)
		n, err := io.Copy(io.Discard, br)
		if err != nil {
			t.Fatal(err)
		}
		took := time.Since(t0)
		t.Logf("NDJSON: %d bytes, TTFB %v, %.1f MB/s", n+1, ttfb.Round(time.Millisecond), float64(n)/(1<<20)/took.Seconds())
		return n + 1
	})
	t0 := time.Now()
	cmd := exec.Command(psql, pg.URI("postgres", db), "-c", `\copy (SELECT row_to_json(t) FROM (SELECT * FROM items ORDER BY id) t) to stdout`)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, out)
	cmd.Wait()
	took := time.Since(t0)
	t.Logf("psql \\copy of the same rows: %d bytes, %v, %.1f MB/s", n, took.Round(time.Millisecond), float64(n)/(1<<20)/took.Seconds())

	// A CSV of a million rows, loaded through pgrest and by \copy.
	f, err := os.CreateTemp("", "pgrest-bulk-*.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(f.Name())
	w := bufio.NewWriter(f)
	w.WriteString("id,name,qty,note\n")
	for i := 1; i <= 1_000_000; i++ {
		fmt.Fprintf(w, "%d,item %d,%d,note text %d\n", i, i, i%1000, i)
	}
	w.Flush()
	f.Close()
	st, _ := os.Stat(f.Name())
	var viaPgrest time.Duration
	measure(t, db, "CSV load 1M rows", func(base string) int64 {
		body, _ := os.Open(f.Name())
		defer body.Close()
		start := time.Now()
		req, _ := http.NewRequest("POST", base+"/sink", body)
		req.ContentLength = st.Size()
		req.Header.Set("Content-Type", "text/csv")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 201 {
			t.Fatalf("CSV POST: %d %s", res.StatusCode, b)
		}
		viaPgrest = time.Since(start)
		return st.Size()
	})
	SQL(t, db, "TRUNCATE sink")
	t0 = time.Now()
	if out, err := exec.Command(psql, pg.URI("postgres", db), "-c", `\copy sink from '`+f.Name()+`' csv header`).CombinedOutput(); err != nil {
		t.Fatalf("psql: %v %s", err, out)
	}
	direct := time.Since(t0)
	t.Logf("CSV load: pgrest %v, psql \\copy %v: %.0f%% of \\copy's throughput", viaPgrest.Round(time.Millisecond), direct.Round(time.Millisecond),
		100*direct.Seconds()/viaPgrest.Seconds())
}

func mustBinDir(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("psql"); err == nil {
		return filepath.Dir(p)
	}
	t.Skip("no psql")
	return ""
}
