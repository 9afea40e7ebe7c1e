package planner

import (
	"strings"
	"testing"
)

func TestGuardedSQL(t *testing.T) {
	p := &Plan{SQL: "SELECT 1, " + responseSettings + " FROM x", Args: []any{1, 2}}
	sql, ok := p.Guarded()
	if !ok || strings.Contains(sql, responseSettings) || !strings.Contains(sql, "current_setting('search_path') = $3") {
		t.Fatalf("guarded: %v %s", ok, sql)
	}
	if _, ok := (&Plan{SQL: "EXPLAIN SELECT 1"}).Guarded(); ok {
		t.Fatal("a statement without the response columns was guarded")
	}
	// Plans of one memo entry share the variant.
	p.guard = &guardVariant{}
	q := *p
	q.Args = []any{3, 4}
	a, _ := p.Guarded()
	b, _ := q.Guarded()
	if a != b || a != sql {
		t.Fatal("variants differ")
	}
}
