package planner

// NDJSON (application/x-ndjson, application/jsonl) responses are streamed:
// the statement returns one row per JSON line instead of one aggregated
// body, so neither PostgreSQL nor pgrest holds the whole response.

// StreamColumns are the columns of a streamed statement, in order. The
// statement always returns at least one row: with no result rows, one row
// whose line is NULL, so total and the response settings still arrive.
// total and the response settings are read from the first row: the
// count is an uncorrelated subquery, evaluated once before the first line.
var StreamColumns = []string{"line", "total", "response_headers", "response_status"}

// line is the SQL expression of one response line for a row of _postgrest_t.
func (m *media) line() string {
	switch {
	case m.scalar:
		return "coalesce(to_json(_postgrest_t.pgrst_scalar)::text, 'null')"
	case m.stripNulls:
		return "json_strip_nulls(row_to_json(_postgrest_t))::text"
	}
	return "row_to_json(_postgrest_t)::text"
}

// streamStatement wraps the rows query inner (rows of _postgrest_t) so that
// its rows come out as lines in order. The left join on one row keeps a
// row when inner has none; OFFSET 0 keeps inner planned on its own, as it
// is inside the aggregated statement.
func streamStatement(with, total string, m *media, inner string) string {
	return with + "SELECT _pgrest_s.line, " + total + " AS total, " + streamSettings +
		" FROM (SELECT 1) _pgrest_one LEFT JOIN (SELECT " + m.line() + " AS line FROM (" + inner +
		") _postgrest_t OFFSET 0) _pgrest_s ON true"
}

// streamSettings are the response settings as subqueries: evaluated once,
// at the first row (when the rows' source has run), not for every line.
const streamSettings = "(SELECT nullif(current_setting('response.headers', true), '')) AS response_headers, " +
	"(SELECT nullif(current_setting('response.status', true), '')) AS response_status"
