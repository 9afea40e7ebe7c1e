package integration

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/pgrest/pgrest/server/config"
)

// TestEmbedRunsOncePerRow guards the statement shape of a read with a
// to-many embed: the embed's subquery is a SubPlan that must appear once
// in the plan. Counting the page with a whole-row count(…) made PostgreSQL
// evaluate every embed twice (once for the count, once for the body).
func TestEmbedRunsOncePerRow(t *testing.T) {
	db := NewDB(t, perfSchema)
	p := StartPgrest(t, db, func(c *config.Config) { c.DBPlanEnabled = true })
	r := p.Get("/albums?select=id,title,tracks(id,title)&artist_id=eq.3",
		"Accept: application/vnd.pgrst.plan; options=analyze").Expect(t, 200)
	if n := strings.Count(string(r.Body), "SubPlan"); n != 1 {
		t.Fatalf("the embed's subquery shows %d times in the plan, want 1:\n%s", n, r.Body)
	}
	// The body is unchanged: five albums, each with its ten tracks.
	got := p.Get("/albums?select=id,tracks(id)&artist_id=eq.3").Expect(t, 200).JSON(t).([]any)
	if len(got) != 5 {
		t.Fatalf("got %d albums, want 5", len(got))
	}
	for _, a := range got {
		if n := len(a.(map[string]any)["tracks"].([]any)); n != 10 {
			t.Fatalf("album %v has %d tracks, want 10", a, n)
		}
	}
}

// TestSmallInsertSkipsBulkBuffer: a small JSON insert through the whole
// handler allocates far less than the bulk path's 64 KiB read buffer.
func TestSmallInsertSkipsBulkBuffer(t *testing.T) {
	db := NewDB(t, perfSchema)
	p := StartPgrest(t, db, nil)
	h := p.App.Handler()
	body := `{"album_id":1,"title":"t","track_no":1,"duration_ms":100000,"price":1}`
	serve := func() {
		rec := doHandler(h, "POST", "/tracks", body, "Content-Type: application/json")
		if rec.Code != 201 {
			t.Fatalf("insert: %d %s", rec.Code, rec.Body)
		}
	}
	serve()
	if avg := bytesPerRun(serve, 20); avg > 48<<10 {
		t.Fatalf("a small insert allocates %d bytes, want well under the bulk buffer's 64 KiB", avg)
	}
}

// doHandler serves one request through h in process.
func doHandler(h http.Handler, method, path, body string, headers ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	for _, kv := range headers {
		k, v, _ := strings.Cut(kv, ":")
		r.Header.Set(k, strings.TrimSpace(v))
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// bytesPerRun is the heap allocated per call of fn, averaged over n calls
// (background goroutines add a little: thresholds leave room for it).
func bytesPerRun(fn func(), n int) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < n; i++ {
		fn()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / uint64(n)
}

// TestScalarCallInSelectList: a scalar call sits in a select list, as
// PostgREST's does, not in a FROM list: no Function Scan, whose tuplestore
// holds the one value a scalar returns.
func TestScalarCallInSelectList(t *testing.T) {
	db := NewDB(t, perfSchema)
	p := StartPgrest(t, db, func(c *config.Config) { c.DBPlanEnabled = true })
	for _, req := range []struct{ method, path, body string }{
		{"GET", "/rpc/album_duration?album_id=2", ""},
		{"POST", "/rpc/album_duration", `{"album_id": 2}`},
	} {
		r := p.Do(req.method, req.path, req.body, "Content-Type: application/json", "Accept: application/vnd.pgrst.plan").Expect(t, 200)
		if strings.Contains(string(r.Body), "Function Scan on album_duration") {
			t.Fatalf("%s %s: the call is a function scan:\n%s", req.method, req.path, r.Body)
		}
		p.Do(req.method, req.path, req.body, "Content-Type: application/json").Expect(t, 200)
	}
}
