package planner

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pgrest/pgrest/cache"
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
		if _, err := planUncached(req, snap); err != nil {
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

func parsed(b *testing.B, method, target, body string, headers map[string]string) *request.Request {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	req, err := request.Parse(r, request.Options{Schemas: []string{"public"}})
	if err != nil {
		b.Fatal(err)
	}
	return req
}

// benchWrite is a PATCH with filters and a representation, benchCall an
// RPC call with a JSON body: shapes memoized like reads.
func benchWrite(b *testing.B) *request.Request {
	return parsed(b, "PATCH", "/items?id=gt.10&name=like.*a*&select=id,name,owners(name)", `{"name":"x","owner_id":2}`,
		map[string]string{"Content-Type": "application/json", "Prefer": "return=representation"})
}

func benchCall(b *testing.B) *request.Request {
	return parsed(b, "POST", "/rpc/search_items?select=id,name&order=name&limit=5", `{"q":"a","lim":3}`,
		map[string]string{"Content-Type": "application/json"})
}

func benchPlan(b *testing.B, req *request.Request, cached bool) {
	snap := testSnapshot()
	m := New(128)
	if _, err := m.Plan(req, snap, Options{}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var err error
		if cached {
			_, err = m.Plan(req, snap, Options{})
		} else {
			_, err = planUncached(req, snap)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteCached(b *testing.B)   { benchPlan(b, benchWrite(b), true) }
func BenchmarkWriteUncached(b *testing.B) { benchPlan(b, benchWrite(b), false) }
func BenchmarkCallCached(b *testing.B)    { benchPlan(b, benchCall(b), true) }
func BenchmarkCallUncached(b *testing.B)  { benchPlan(b, benchCall(b), false) }

// planUncached is a memo miss: the shape walk, then tree and SQL.
func planUncached(req *request.Request, snap *cache.Snapshot) (*Plan, error) {
	sh, err := prepare(req, snap, Options{})
	if err != nil {
		return nil, err
	}
	return sh.compile()
}
