package planner

import (
	"strconv"
	"strings"
	"sync"
)

// GuardMark names the error a batch guard raises (22P02, invalid integer
// input), so the executor tells it from the statement's own errors.
const GuardMark = "pgrest-batch-guard"

// GuardCheck is true while the response settings are unset or empty; its
// ELSE raises the guard's error, naming the status. It reads the
// settings, so the planner cannot fold it to a constant.
const GuardCheck = "coalesce(current_setting('response.headers', true), '') = '' AND coalesce(current_setting('response.status', true), '') = ''"

// GuardFail is the expression that raises the guard's error.
const GuardFail = "('" + GuardMark + " ' || coalesce(current_setting('response.status', true), ''))::int"

// A batch that commits in the round trip that runs its statements must
// know, before COMMIT, that no statement left response settings (they can
// make an answer an error) nor moved the search path the next statement
// relies on. Checking it inside each statement, where the statement
// reads the response settings anyway, saves a statement per operation:
// the guarded variant's response_status is NULL when all is as expected,
// and raises the guard's error otherwise.
type guardVariant struct {
	once sync.Once
	arg  int
	sql  string
	ok   bool
}

// Guarded is the statement with its response columns checking, when it
// ends, that the response settings are empty and search_path is the
// parameter appended after Args. ok is false for a statement without the
// usual response columns (EXPLAIN, streams): guard it apart.
func (p *Plan) Guarded() (sql string, ok bool) {
	arg := len(p.Args) + 1
	if p.guard == nil {
		return guardedSQL(p.SQL, arg)
	}
	g := p.guard
	g.once.Do(func() { g.arg = arg; g.sql, g.ok = guardedSQL(p.SQL, arg) })
	if g.arg != arg { // one shape, one parameter count: never seen, but never wrong
		return guardedSQL(p.SQL, arg)
	}
	return g.sql, g.ok
}

func guardedSQL(sql string, pathArg int) (string, bool) {
	if strings.Count(sql, responseSettings) != 1 {
		return "", false
	}
	guarded := "nullif(current_setting('response.headers', true), '') AS response_headers, (CASE WHEN " + GuardCheck +
		" AND current_setting('search_path') = $" + strconv.Itoa(pathArg) + " THEN NULL::text ELSE " + GuardFail + "::text END) AS response_status"
	return strings.Replace(sql, responseSettings, guarded, 1), true
}
