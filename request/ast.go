// Package request turns an HTTP request into an API request: the AST the
// planner compiles. It owns PostgREST's URL grammar, headers and Prefer.
// Nothing here looks at the schema cache: names are checked by the planner.
package request

import "strings"

// Action is what the request asks for.
type Action int

const (
	ActRead       Action = iota // GET/HEAD on a table or view
	ActInfo                     // OPTIONS on a table, view or function
	ActCreate                   // POST on a table or view
	ActUpdate                   // PATCH
	ActDelete                   // DELETE
	ActUpsert                   // PUT (single-row upsert)
	ActInvoke                   // /rpc/fn (GET, HEAD or POST)
	ActSchemaRead               // GET/HEAD on / (OpenAPI)
)

// JSONOp is one step of a JSON/composite/array path: -> or ->> then a key.
// Index keys (digits, possibly negative) are kept as written; the planner
// decides between integer and text operands.
type JSONOp struct {
	Text bool   // ->> when true, -> otherwise
	Key  string // field name or array index
}

// IsIndex reports whether the key is an array index: an optional minus
// and digits only (PostgREST reads "+1" or "1a" as object keys).
func (o JSONOp) IsIndex() bool {
	k := strings.TrimPrefix(o.Key, "-")
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < '0' || k[i] > '9' {
			return false
		}
	}
	return true
}

// Field is a column with an optional path: col->a->>b.
type Field struct {
	Name string
	Path []JSONOp
}

// SelectItem is one element of select=. Exactly one of the shapes applies:
//   - a column or `*` (Field set, Embed nil)
//   - an aggregate over a column or `count()` (Aggregate set; Field.Name ""
//     for a bare count())
//   - an embedded resource (Embed set)
type SelectItem struct {
	Field         Field
	Alias         string // "" when none
	Cast          string // ::type on the column, "" when none
	Aggregate     string // count, sum, avg, max, min; "" when none
	AggregateCast string // count()::int style cast of the aggregate result
	Embed         *Embed
}

// Embed is rel(...), alias:rel!hint!inner(...), ...rel(...).
type Embed struct {
	Name     string // relation, function or computed relationship name
	Alias    string
	Hint     string // !fk_name, !column, !junction_table, or ""
	JoinType string // "inner", "left" or "" (default left)
	Spread   bool   // ...rel(...)
	Select   []SelectItem
}

// Operation is the right-hand side of a filter: [not.]op[(quant)][(lang)].value
type Operation struct {
	Negated  bool
	Op       string   // eq, neq, gt, gte, lt, lte, like, ilike, match, imatch, in, is, isdistinct, fts, plfts, phfts, wfts, cs, cd, ov, sl, sr, nxr, nxl, adj
	Quant    string   // "any", "all" or ""
	Language string   // fts language, "" when none
	Value    string   // raw value (unquoted) for scalar operators
	List     []string // values for in, and for eq(any) style quantified lists
}

// Filter is col=op.value, scoped to the embed at Path (empty for the root).
// A filter whose Field names an embed with is.null / not.is.null is an
// embed-null filter; the planner decides which it is.
type Filter struct {
	Path  []string // embed path (aliases or names) from the root
	Field Field
	Op    Operation
	// Key is the raw query key on /rpc requests, where a parameter that
	// names a function argument is an argument, not a filter.
	Key string
}

// Logic is or=(...) / and=(...) / not.or=(...), scoped to an embed path.
type Logic struct {
	Path     []string
	Or       bool
	Negated  bool
	Children []LogicNode
}

// LogicNode is either a filter or a nested tree.
type LogicNode struct {
	Filter *Filter // Path ignored inside a tree
	Tree   *Logic
}

// NullsOrder is an order term's nullsfirst/nullslast, or neither.
type NullsOrder int

// The NULLS orders.
const (
	NullsDefault NullsOrder = iota
	NullsFirst
	NullsLast
)

// OrderTerm is one element of order=. Relation is set for order=rel(col).
type OrderTerm struct {
	Relation string
	Field    Field
	Desc     bool
	Nulls    NullsOrder
}

// Order is order= for the embed at Path.
type Order struct {
	Path  []string
	Terms []OrderTerm
}

// Range is limit/offset for the embed at Path. Limit nil means unlimited.
// For the root, the Range header is folded in (intersection of both).
type Range struct {
	Path   []string
	Offset int64
	Limit  *int64
}

// MediaType is a parsed media type with its parameters.
type MediaType struct {
	Type    string // e.g. "application"
	Subtype string // e.g. "json", "vnd.pgrst.object+json", "*"
	Params  map[string]string
	Q       float64
}

// String is type/subtype without parameters.
func (m MediaType) String() string { return m.Type + "/" + m.Subtype }

// Preferences are the parsed Prefer header values; empty strings mean absent.
type Preferences struct {
	Return      string // minimal, headers-only, representation
	Count       string // exact, planned, estimated
	Resolution  string // merge-duplicates, ignore-duplicates
	Missing     string // default, null
	Handling    string // strict, lenient
	Timezone    string
	Tx          string // commit, rollback
	MaxAffected *int64
	// Invalid lists preferences that were not understood (PGRST122 under
	// handling=strict; ignored otherwise).
	Invalid []string
}

// Request is the parsed API request.
type Request struct {
	Method   string
	Action   Action
	HeadOnly bool
	Schema   string // from Accept-Profile/Content-Profile or the first db-schema
	// SchemaNegotiated is true when a profile header was sent (Vary/Content-Profile).
	SchemaNegotiated bool
	Resource         string // table/view or function name ("" for /)
	// RPC is set for /rpc/fn paths (an OPTIONS request names a function).
	RPC bool

	Select []SelectItem // nil or empty means *
	// Filters lists every col=op.val parameter (root and embedded).
	Filters []Filter
	Logic   []Logic
	Orders  []Order
	Ranges  []Range
	// RangeHeader reports whether a Range header was sent (206 semantics).
	RangeHeader bool

	Columns    []string // columns= for inserts and RPC
	OnConflict []string // on_conflict=

	// RPCArgs are query parameters that are not grammar keywords or filters on
	// a known column; for GET /rpc/fn they are the function's arguments.
	RPCArgs map[string][]string

	Prefs       Preferences
	Accept      []MediaType // sorted by preference, never empty (*/* default)
	ContentType MediaType
	Body        []byte
	// Bulk, when set, says the body of a POST is not in Body: the edge
	// streams it into PostgreSQL by COPY (server/bulk.go).
	Bulk *Bulk

	// params are the query parameters as written, for CanonicalQuery.
	params [][2]string

	// Raw request facts the executor exposes as request.* settings.
	Path    string
	Headers map[string]string // lower-cased names
	Cookies map[string]string
}

// Bulk describes a POST body loaded by COPY: its format and the columns
// its first line names (the CSV header, or the keys of the first object).
type Bulk struct {
	// Format is BulkCSV (COPY reads the body as sent), BulkRows (CSV rows
	// without a header, made by the edge from JSON rows) or BulkJSON (one
	// JSON object per line, checked by the edge).
	Format string
	Cols   []string
}

// Bulk formats.
const (
	BulkCSV  = "csv"
	BulkRows = "rows"
	BulkJSON = "json"
)
