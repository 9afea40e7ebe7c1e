// Package planner compiles an API request against a schema-cache snapshot
// into one parameterized SQL statement, memoized per request shape.
package planner

import (
	"github.com/pgrest/pgrest/cache"
	"github.com/pgrest/pgrest/request"
)

// Options are the configuration values that change the SQL.
type Options struct {
	MaxRows           *int64 // db-max-rows
	AggregatesEnabled bool   // db-aggregates-enabled
	PlanEnabled       bool   // db-plan-enabled
	// LegacyTargetNames lets a scoped parameter name an aliased embed by its
	// relation (url-use-legacy-target-names).
	LegacyTargetNames bool
	// HoistedSettings are the function settings applied to the transaction
	// (db-hoisted-tx-settings).
	HoistedSettings []string
}

// Plan is what the executor runs. The statement returns exactly one row
// with the fixed columns listed in ResultColumns, so a prepared statement
// survives DDL that does not change the queried relations:
//
//	total bigint (NULL unless a count was asked), page_total bigint,
//	body text, body_bytes bytea (binary media types; body is NULL then),
//	response_headers text, response_status text
type Plan struct {
	SQL  string
	Args []any
	// ReadOnly is true for GET/HEAD and stable/immutable functions.
	ReadOnly bool
	// Volatile: the call's function is VOLATILE (it may have side effects
	// a read-only transaction allows, so it stays on the primary).
	Volatile bool
	// MediaType is the negotiated response media type (Content-Type).
	MediaType string
	// CountTotal tells the executor whether total is an exact/planned/estimated count.
	Count string
	// Offset of the root range, for Content-Range.
	Offset int64
	// Singular: the body must hold exactly one row (vnd.pgrst.object+json).
	Singular bool
	// Inserted: total holds how many rows an upsert inserted (a write
	// never needs a separate total: its count is page_total).
	Inserted bool
	// Upsert: Prefer: resolution applied (the relation has a conflict
	// target: on_conflict= or a primary key).
	Upsert bool
	// NoContent: the call returns void; the response is 204 without a body.
	NoContent bool
	// CountSQL, when set, is a statement (same Args) whose EXPLAIN row
	// estimate answers Prefer: count=planned (and estimated above db-max-rows).
	CountSQL string
	// EstimateAbove: for count=estimated, the exact count (counted up to one
	// row past it) gives way to a larger plan estimate only above this
	// db-max-rows; nil means always (PostgREST's comparison with no limit).
	EstimateAbove *int64
	// Explain holds the EXPLAIN options (e.g. "FORMAT JSON, ANALYZE") when the
	// client asked for application/vnd.pgrst.plan; the executor then runs
	// EXPLAIN (Explain) SQL instead and returns the plan.
	Explain string
	// Warning is the text of a 299 Warning header (deprecated usage), "" if none.
	Warning string
	// Stream: SQL returns one row per NDJSON line (StreamColumns), not the
	// single aggregated row; the executor streams it (executor.Stream).
	Stream bool
	// BulkStage and BulkCopy, when set, load the request's body before SQL
	// runs: BulkStage creates the staging table SQL reads, BulkCopy is the
	// COPY ... FROM STDIN that fills it (executor.TxContext.Body).
	BulkStage, BulkCopy string
	// BulkUnit is what COPY's line numbers count in the body: "Line"
	// (CSV as sent) or "Row" (rows the edge re-encoded).
	BulkUnit string
	// Settings are transaction-local settings the statement needs before it
	// runs (function proconfig hoisting); name -> value.
	Settings map[string]string
	// guard is the guarded variant, shared by the plans of one memo entry.
	guard *guardVariant
}

// ResultColumns are the columns every statement returns, in order.
var ResultColumns = []string{"total", "page_total", "body", "body_bytes", "response_headers", "response_status"}

// Planner compiles and memoizes.
type Planner interface {
	Plan(req *request.Request, snap *cache.Snapshot, opts Options) (*Plan, error)
}
