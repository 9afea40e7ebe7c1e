package executor

import (
	"strings"
	"testing"

	"github.com/pgrest/pgrest/planner"
)

// stepSQL has the response columns every planned statement ends with.
const stepSQL = "SELECT 1 AS total, nullif(current_setting('response.headers', true), '') AS response_headers, nullif(current_setting('response.status', true), '') AS response_status FROM t"

// A guarded run checks inside each statement: one statement per step and
// a last guard, however many steps write (and so may move settings).
func TestGuardedQueueSendsOneStatementPerStep(t *testing.T) {
	tx := &Tx{
		x:        &Executor{},
		response: map[string]string{"response.headers": "", "response.status": ""},
		held:     map[string]string{"response.headers": "", "response.status": "", "search_path": `"api"`},
	}
	path := map[string]string{"search_path": `"api"`}
	var steps []Step
	for i := 0; i < 6; i++ {
		steps = append(steps, Step{Plan: &planner.Plan{SQL: stepSQL, Args: []any{"x"}}, Settings: path, Opaque: i%2 == 0})
	}
	b, _, _, _, _ := tx.queue(steps, true)
	if n := len(b.QueuedQueries); n != len(steps)+1 {
		t.Fatalf("%d statements for %d steps", n, len(steps))
	}
	for _, q := range b.QueuedQueries[:len(steps)] {
		if !strings.Contains(q.SQL, planner.GuardMark) || len(q.Arguments) != 2 || q.Arguments[1] != `"api"` {
			t.Fatalf("step not guarded: %s %v", q.SQL, q.Arguments)
		}
	}
	// A statement without the response columns cannot check itself: a
	// guard statement follows it.
	steps[2].Plan = &planner.Plan{SQL: "SELECT 1"}
	tx.held = map[string]string{"response.headers": "", "response.status": "", "search_path": `"api"`}
	b, _, _, _, _ = tx.queue(steps, true)
	if n := len(b.QueuedQueries); n != len(steps)+2 {
		t.Fatalf("%d statements for %d steps, one unguarded", n, len(steps))
	}
}

// A hoisted setting is put back for the steps after its own: to the role's
// value when the role has one, else to the session default (a NULL value,
// SET LOCAL ... TO DEFAULT), and only once.
func TestHoistedSettingsPutBack(t *testing.T) {
	for _, c := range []struct {
		role map[string]string
		want any
	}{{nil, nil}, {map[string]string{"statement_timeout": "5s"}, "5s"}} {
		tx := &Tx{
			x:            &Executor{},
			response:     map[string]string{"response.headers": "", "response.status": ""},
			held:         map[string]string{"response.headers": "", "response.status": "", "search_path": `"api"`},
			roleSettings: c.role,
		}
		path := map[string]string{"search_path": `"api"`}
		hoisting := map[string]string{"search_path": `"api"`, "statement_timeout": "1s"}
		read := &planner.Plan{SQL: "SELECT 1"}
		b, _, _, _, _ := tx.queue([]Step{{Plan: read, Settings: hoisting}, {Plan: read, Settings: path}, {Plan: read, Settings: path}}, false)
		var puts [][]any
		for _, q := range b.QueuedQueries {
			if strings.Contains(q.SQL, "'statement_timeout'") {
				puts = append(puts, q.Arguments)
			}
		}
		if len(puts) != 2 || puts[0][0] != "1s" || puts[1][0] != c.want {
			t.Fatalf("role %v: statement_timeout set with %v, want 1s then %v", c.role, puts, c.want)
		}
	}
}
