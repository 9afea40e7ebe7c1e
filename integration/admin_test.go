package integration

import (
	"bytes"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/pgrest/pgrest/server/config"
)

// O4: the admin server's endpoints, Prometheus metrics included.
func TestAdminServer(t *testing.T) {
	db := NewDB(t, `CREATE TABLE items (id int); GRANT SELECT ON items TO web_anon;
CREATE FUNCTION broken() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'internal' USING ERRCODE = 'XX000'; END $$;
GRANT EXECUTE ON FUNCTION broken TO web_anon;`)
	p := StartPgrest(t, db, func(c *config.Config) { c.DBPool = 3 })
	admin := adminURL(t, p)
	get := func(path string) (int, string) {
		t.Helper()
		return adminGet(t, admin, path)
	}
	for _, path := range []string{"/live", "/ready"} {
		if code, _ := get(path); code != 200 {
			t.Errorf("%s: %d", path, code)
		}
	}
	if code, body := get("/schema_cache"); code != 200 || !strings.Contains(body, `"items"`) {
		t.Errorf("/schema_cache: %d %.200s", code, body)
	}
	p.Get("/items").Expect(t, 200)
	p.Get("/items").Expect(t, 200)
	p.Get("/rpc/broken").Expect(t, 500) // a failure inside: logged and counted
	code, body := get("/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		`pgrst_schema_cache_loads_total{status="SUCCESS"} [1-9]`,
		`pgrst_schema_cache_loads_total{status="FAIL"} 0`,
		`pgrst_schema_cache_query_time_seconds [0-9.e-]+`,
		`pgrst_db_pool_max 3`,
		`pgrst_db_pool_available [0-9]`,
		`pgrst_db_pool_waiting 0`,
		`pgrst_db_pool_timeouts_total 0`,
		`pgrest_plan_cache_hits_total [1-9]`,
		`pgrest_schema_version [0-9]`,
		`pgrest_internal_errors_total 1`,
	} {
		if !regexp.MustCompile(`(?m)^` + want).MatchString(body) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// O5: Server-Timing and the echoed trace header.
func TestServerTimingAndTrace(t *testing.T) {
	db := NewDB(t, `CREATE TABLE items (id int); GRANT SELECT ON items TO web_anon;`)
	p := StartPgrest(t, db, func(c *config.Config) {
		c.ServerTimingEnabled = true
		c.ServerTraceHeader = "X-Request-Id"
	})
	r := p.Get("/items", "X-Request-Id: abc-123").Expect(t, 200)
	if got := r.Header.Get("X-Request-Id"); got != "abc-123" {
		t.Errorf("trace header = %q", got)
	}
	st := r.Header.Get("Server-Timing")
	if !regexp.MustCompile(`^jwt;dur=[0-9.]+, parse;dur=[0-9.]+, plan;dur=[0-9.]+, transaction;dur=[0-9.]+, response;dur=[0-9.]+$`).MatchString(st) {
		t.Errorf("Server-Timing = %q", st)
	}
	// errors carry it too
	if st := p.Get("/nothing").Header.Get("Server-Timing"); !strings.Contains(st, "parse;dur=") {
		t.Errorf("Server-Timing on an error = %q", st)
	}
	// off by default
	q := StartPgrest(t, db, nil)
	if st := q.Get("/items").Expect(t, 200).Header.Get("Server-Timing"); st != "" {
		t.Errorf("Server-Timing without server-timing-enabled: %q", st)
	}
}

// C6: log-query = true (v16's boolean) logs each request's SQL once the
// response is known, for the statuses the request log shows at the log
// level: at log-level = error, a 5xx's statement and not a 200's.
func TestLogQuery(t *testing.T) {
	db := NewDB(t, `CREATE TABLE items (id int); GRANT SELECT ON items TO web_anon;
		CREATE FUNCTION broken() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION USING ERRCODE = 'XX000', MESSAGE = 'broken'; END $$;
		GRANT EXECUTE ON FUNCTION broken() TO web_anon;`)
	cfg := BaseConfig(db)
	cfg.LogQuery = true
	cfg.LogLevel = "error"
	var buf syncBuffer
	p := startLogging(t, cfg, &buf)
	p.WaitReady()
	p.Get("/items?id=eq.1").Expect(t, 200)
	p.Get("/rpc/broken").Expect(t, 500)
	if !strings.Contains(buf.String(), `"query":"SELECT`) || !strings.Contains(buf.String(), `\"broken\"`) {
		t.Errorf("the failing request's query was not logged:\n%s", buf.String())
	}
	if strings.Contains(buf.String(), `\"items\"`) {
		t.Errorf("a 200's query was logged at log-level error:\n%s", buf.String())
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Go profiles are served on the admin server only when asked for.
func TestAdminPprofOptIn(t *testing.T) {
	db := NewDB(t, `CREATE TABLE items (id int); GRANT SELECT ON items TO web_anon;`)
	for _, on := range []bool{false, true} {
		p := StartPgrest(t, db, func(c *config.Config) { c.AdminPprof = on })
		code, _ := adminGet(t, adminURL(t, p), "/debug/pprof/heap?debug=1")
		if want := map[bool]int{false: 404, true: 200}[on]; code != want {
			t.Errorf("pgrest-admin-pprof = %v: /debug/pprof/heap answered %d, want %d", on, code, want)
		}
		if p.Get("/debug/pprof/heap").Status == 200 {
			t.Error("profiles must never be served on the API port")
		}
	}
}
