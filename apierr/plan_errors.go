package apierr

import (
	"net/http"
	"strings"
)

// The errors the planner raises while it resolves a request against the
// schema cache, named after PostgREST's Error.hs constructors, with its
// status, code, message and hint.

// TableNotFound is PGRST205 (TableNotFound); hint names the closest table
// ("" for none).
func TableNotFound(schema, name, closest string) *Error {
	e := New(http.StatusNotFound, "PGRST205", "Could not find the table '"+schema+"."+name+"' in the schema cache", "", "")
	if closest != "" {
		e.Hint = "Perhaps you meant the table '" + schema + "." + closest + "'"
	}
	return e
}

// ColumnNotFound is PGRST204: a payload or columns= key that is no column.
func ColumnNotFound(rel, col string) *Error {
	return New(http.StatusBadRequest, "PGRST204", "Could not find the '"+col+"' column of '"+rel+"' in the schema cache", "", "")
}

// NotFoundRelationship is PGRST200 (NoRelBetween): no relationship between
// parent and child (through hint, when given) in schema.
func NotFoundRelationship(parent, child, hint, schema, suggestion string) *Error {
	using := ""
	if hint != "" {
		using = "' using the hint '" + hint
	}
	return New(http.StatusBadRequest, "PGRST200",
		"Could not find a relationship between '"+parent+"' and '"+child+"' in the schema cache",
		"Searched for a foreign key relationship between '"+parent+"' and '"+child+using+"' in the schema '"+schema+"', but no matches were found.",
		suggestion)
}

// AmbiguousRelationship is PGRST201 (AmbiguousRelBetween): details are the
// candidates, hints the target!hint spellings that pick one.
func AmbiguousRelationship(parent, child string, details []map[string]string, hints []string) *Error {
	e := New(http.StatusMultipleChoices, "PGRST201",
		"Could not embed because more than one relationship was found for '"+parent+"' and '"+child+"'", "",
		"Try changing '"+child+"' to one of the following: "+strings.Join(hints, ", ")+". Find the desired relationship in the 'details' key.")
	e.Details = details
	return e
}

// NotFoundFunction is PGRST202 (NoRpc); message and details name what was
// searched.
func NotFoundFunction(message, details, hint string) *Error {
	return New(http.StatusNotFound, "PGRST202", message, details, hint)
}

// AmbiguousFunction is PGRST203 (AmbiguousRpc) between the signatures.
func AmbiguousFunction(signatures []string) *Error {
	return New(http.StatusMultipleChoices, "PGRST203",
		"Could not choose the best candidate function between: "+strings.Join(signatures, ", "), "",
		"Try renaming the parameters or the function itself in the database so function overloading can be resolved")
}

// NotEmbedded is PGRST108: a scoped parameter names no embed of select;
// alias is the alias to use when it named an aliased embed by relation.
func NotEmbedded(name, alias string) *Error {
	msg := "'" + name + "' is not an embedded resource in this request"
	if alias != "" {
		return New(http.StatusBadRequest, "PGRST108", msg, "Target names are not allowed in filters if they have an alias",
			"Change '"+name+"' to '"+alias+"' in filters, orders or limits.")
	}
	return New(http.StatusBadRequest, "PGRST108", msg, "", "Verify that '"+name+"' is included in the 'select' query parameter.")
}

// RelatedOrderNotToOne is PGRST118: order=rel(col) on a to-many embed.
func RelatedOrderNotToOne(parent, embed string) *Error {
	return New(http.StatusBadRequest, "PGRST118", "A related order on '"+embed+"' is not possible",
		"'"+parent+"' and '"+embed+"' do not form a many-to-one or one-to-one relationship", "")
}

// AggregatesNotAllowed is PGRST123: db-aggregates-enabled is off.
func AggregatesNotAllowed() *Error {
	return New(http.StatusBadRequest, "PGRST123", "Use of aggregate functions is not allowed", "", "")
}

// MaxAffectedRpcViolation is PGRST128: max-affected with handling=strict
// on a function that returns no set.
func MaxAffectedRpcViolation() *Error {
	return New(http.StatusBadRequest, "PGRST128", "Function must return SETOF or TABLE when max-affected preference is used with handling=strict", "", "")
}

// InvalidFilters is PGRST105: PUT's filters are not exactly the primary
// key with eq.
func InvalidFilters() *Error {
	return New(http.StatusMethodNotAllowed, "PGRST105", "Filters must include all and only primary key columns with 'eq' operators", "", "")
}

// PutLimitNotAllowed is PGRST114: limit or offset on PUT.
func PutLimitNotAllowed() *Error {
	return New(http.StatusBadRequest, "PGRST114", "limit/offset querystring parameters are not allowed for PUT", "", "")
}

// PutMatchingPk is PGRST115 (PutMatchingPkError): the payload's key is
// not the one the URL names.
func PutMatchingPk() *Error {
	return New(http.StatusBadRequest, "PGRST115", "Payload values do not match URL in primary key column(s)", "", "")
}

// ObjectKeysMismatch is PGRST102: the rows of a payload have different keys.
func ObjectKeysMismatch() *Error {
	return New(http.StatusBadRequest, "PGRST102", "All object keys must match", "", "")
}

// PayloadContentType is PGRST102: a write's body of a type it cannot read.
func PayloadContentType(ct string) *Error {
	return New(http.StatusBadRequest, "PGRST102", "Content-Type not acceptable: "+ct, "", "")
}

// LimitNeedsTable is PGRST100: limit/offset on PATCH or DELETE of a view
// (rows are picked by ctid).
func LimitNeedsTable() *Error {
	return New(http.StatusBadRequest, "PGRST100", "limit and offset on PATCH and DELETE need a table", "", "")
}
