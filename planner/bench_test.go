package planner

import (
	"net/http/httptest"
	"testing"

	"github.com/pgrest/pgrest/request"
)

const benchQuery = "select=id,name,owners(name),notes(body)&id=gt.10&name=like.*a*&notes.order=id.desc&order=name&limit=20"

func benchRequest(b *testing.B) *request.Request {
	r := httptest.NewRequest("GET", "/items?"+benchQuery, nil)
	req, err := request.Parse(r, request.Options{Schemas: []string{"public"}})
	if err != nil {
		b.Fatal(err)
	}
	return req
}

// BenchmarkPlanCached is the hot path: the shape is in the memo.
func BenchmarkPlanCached(b *testing.B) {
	snap, req := testSnapshot(), benchRequest(b)
	m := New(128)
	m.Plan(req, snap, Options{})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.Plan(req, snap, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlanUncached compiles every time.
func BenchmarkPlanUncached(b *testing.B) {
	snap, req := testSnapshot(), benchRequest(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := New(16).Plan(req, snap, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParse is the request parser on the same query.
func BenchmarkParse(b *testing.B) {
	r := httptest.NewRequest("GET", "/items?"+benchQuery, nil)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := request.Parse(r, request.Options{Schemas: []string{"public"}}); err != nil {
			b.Fatal(err)
		}
	}
}
