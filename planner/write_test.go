package planner

import "testing"

// Parameters a write leaves out are still typed; $1 is
// not mistaken for a use of $12.
func TestBindUnused(t *testing.T) {
	types := make([]string, 12)
	for i := range types {
		types[i] = "text"
	}
	types[1] = "text[]"
	got := bindUnused("SELECT $12, $3, $4, $5, $6, $7, $8, $9, $10, $11", types)
	want := " WHERE ($1::text IS NULL OR $2::text[] IS NULL OR true)"
	if got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	if got := bindUnused("SELECT $1", []string{"text"}); got != "" {
		t.Fatalf("all used: %q", got)
	}
}
