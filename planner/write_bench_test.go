package planner

import "testing"

// The bench's own shapes (../shared/bench W1 and W4, and an update),
// cached and uncached, beside the richer shapes in bench_test.go.

// BenchmarkPlanInsert: POST of one row (the bench's W4 shape).
func BenchmarkPlanInsert(b *testing.B) {
	req := parsed(b, "POST", "/items", `{"id":1,"name":"x","owner_id":2}`, map[string]string{"Content-Type": "application/json"})
	b.Run("cached", func(b *testing.B) { benchPlan(b, req, true) })
	b.Run("uncached", func(b *testing.B) { benchPlan(b, req, false) })
}

// BenchmarkPlanUpdate: PATCH with a filter and return=representation.
func BenchmarkPlanUpdate(b *testing.B) {
	req := parsed(b, "PATCH", "/items?id=eq.3", `{"name":"y"}`,
		map[string]string{"Content-Type": "application/json", "Prefer": "return=representation"})
	b.Run("cached", func(b *testing.B) { benchPlan(b, req, true) })
	b.Run("uncached", func(b *testing.B) { benchPlan(b, req, false) })
}

// BenchmarkPlanPointRead: the bench's W1 shape (one row by key).
func BenchmarkPlanPointRead(b *testing.B) {
	req := parsed(b, "GET", "/items?id=eq.7", "", nil)
	b.Run("cached", func(b *testing.B) { benchPlan(b, req, true) })
	b.Run("uncached", func(b *testing.B) { benchPlan(b, req, false) })
}
