package planner

import "testing"

// Parameters a write leaves out are still typed, by their Go type; $1 is
// not mistaken for a use of $12.
func TestBindUnused(t *testing.T) {
	args := make([]any, 12)
	for i := range args {
		args[i] = "v"
	}
	args[1] = []string{"a"}
	got := bindUnused("SELECT $12, $3, $4, $5, $6, $7, $8, $9, $10, $11", args)
	want := " WHERE ($1::text IS NULL OR $2::text[] IS NULL OR true)"
	if got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	if got := bindUnused("SELECT $1", []any{"v"}); got != "" {
		t.Fatalf("all used: %q", got)
	}
}
