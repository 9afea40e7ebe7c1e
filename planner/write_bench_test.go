package planner

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pgrest/pgrest/request"
)

// Writes through the public API only (Memo.Plan), so the benchmarks
// outlive changes inside the planner.

func benchWrite(b *testing.B, method, target, body string, headers ...string) *request.Request {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	req, err := request.Parse(r, request.Options{Schemas: []string{"public"}})
	if err != nil {
		b.Fatal(err)
	}
	return req
}

func runPlan(b *testing.B, req *request.Request, fresh bool) {
	snap := testSnapshot()
	m := New(128)
	if _, err := m.Plan(req, snap, Options{}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if fresh {
			m = New(16)
		}
		if _, err := m.Plan(req, snap, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlanInsert: POST of one row (the bench's W4 shape), through a
// warm memo and through a new one each time.
func BenchmarkPlanInsert(b *testing.B) {
	req := benchWrite(b, "POST", "/items", `{"id":1,"name":"x","owner_id":2}`)
	b.Run("cached", func(b *testing.B) { runPlan(b, req, false) })
	b.Run("uncached", func(b *testing.B) { runPlan(b, req, true) })
}

// BenchmarkPlanUpdate: PATCH with a filter and return=representation.
func BenchmarkPlanUpdate(b *testing.B) {
	req := benchWrite(b, "PATCH", "/items?id=eq.3", `{"name":"y"}`, "Prefer", "return=representation")
	b.Run("cached", func(b *testing.B) { runPlan(b, req, false) })
	b.Run("uncached", func(b *testing.B) { runPlan(b, req, true) })
}

// BenchmarkPlanPointRead: the bench's W1 shape (one row by key).
func BenchmarkPlanPointRead(b *testing.B) {
	r := httptest.NewRequest("GET", "/items?id=eq.7", nil)
	req, err := request.Parse(r, request.Options{Schemas: []string{"public"}})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("cached", func(b *testing.B) { runPlan(b, req, false) })
	b.Run("uncached", func(b *testing.B) { runPlan(b, req, true) })
}
