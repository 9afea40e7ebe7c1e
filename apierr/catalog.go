package apierr

import (
	"net/http"
	"strconv"
	"strings"
)

// The catalogue: one constructor per PGRST code raised outside the planner,
// each with PostgREST v16's status, message and hint (src/PostgREST/Error.hs),
// so that a code's wording lives in exactly one place.

// ConnectionFailed is PGRST000: the database could not be reached at all.
func ConnectionFailed(details string) *Error { // PGRST000
	return New(http.StatusServiceUnavailable, "PGRST000", "Database connection error.", details, "")
}

// Internal is PGRST000 for a failure inside pgrest that is not the client's
// (reading the catalog, rendering a document); it is logged and counted.
func Internal(message, details string) *Error { // PGRST000
	return New(http.StatusInternalServerError, "PGRST000", message, details, "")
}

// ConnectionRetrying is PGRST001: the pool's connection failed mid-request.
func ConnectionRetrying(details string) *Error { // PGRST001
	return New(http.StatusServiceUnavailable, "PGRST001", "Database client error. Retrying the connection.", details, "")
}

// SchemaCacheNotLoaded is PGRST002: no snapshot to plan against yet.
func SchemaCacheNotLoaded() *Error { // PGRST002
	return New(http.StatusServiceUnavailable, "PGRST002", "Could not query the database for the schema cache. Retrying.", "", "")
}

// SchemaVersionUnavailable is PGRST002 for X-Schema-Version-Min: the
// requested snapshot did not arrive within pgrest-schema-wait-timeout.
func SchemaVersionUnavailable(want string, serving int64) *Error { // PGRST002
	e := New(http.StatusServiceUnavailable, "PGRST002", "Schema cache version "+want+" is not available yet",
		"serving version "+strconv.FormatInt(serving, 10), "Retry the request shortly.")
	e.Headers = map[string]string{"Retry-After": "1"}
	return e
}

// PoolTimeout is PGRST003: no pooled connection within db-pool-acquisition-timeout.
func PoolTimeout() *Error { // PGRST003
	return New(http.StatusGatewayTimeout, "PGRST003", "Timed out acquiring connection from connection pool.", "", "")
}

// InvalidHeader is PGRST100 for a request header whose value can't be read.
func InvalidHeader(name, details string) *Error { // PGRST100
	return ParseError("Invalid "+name+" header", details)
}

// RPCMethodNotAllowed is PGRST101: /rpc takes only GET, HEAD and POST.
func RPCMethodNotAllowed() *Error { // PGRST101
	return New(http.StatusMethodNotAllowed, "PGRST101", "Only GET, HEAD and POST are allowed for RPC", "", "")
}

// UnacceptableSchema is PGRST106: Accept-Profile/Content-Profile names a
// schema that is not in db-schemas.
func UnacceptableSchema(schema string, exposed []string) *Error { // PGRST106
	return New(http.StatusNotAcceptable, "PGRST106", "Invalid schema: "+schema, "",
		"Only the following schemas are exposed: "+strings.Join(exposed, ", "))
}

// GucHeadersError is PGRST111: response.headers set by SQL is not a JSON
// array of objects.
func GucHeadersError() *Error { // PGRST111
	return New(http.StatusInternalServerError, "PGRST111", "Response headers must be a JSON array of objects", "", "")
}

// GucStatusError is PGRST112: response.status set by SQL is not a status code.
func GucStatusError(value string) *Error { // PGRST112
	return New(http.StatusInternalServerError, "PGRST112", "Response status must be a valid HTTP status code",
		"Invalid response status: "+value, "")
}

// SingularityError is PGRST116: vnd.pgrst.object asked for one row and the
// statement produced n.
func SingularityError(n int64) *Error { // PGRST116
	return New(http.StatusNotAcceptable, "PGRST116", "Cannot coerce the result to a single JSON object",
		"The result contains "+strconv.FormatInt(n, 10)+" rows", "")
}

// UnsupportedMethod is PGRST117.
func UnsupportedMethod(method string) *Error { // PGRST117
	return New(http.StatusMethodNotAllowed, "PGRST117", "Unsupported HTTP method: "+method, "", "")
}

// RaiseJSONError is PGRST121: RAISE SQLSTATE 'PGRST' with a MESSAGE or
// DETAIL that is not the JSON PostgREST documents.
func RaiseJSONError(details, hint string) *Error { // PGRST121
	return New(http.StatusInternalServerError, "PGRST121",
		`Could not parse JSON in the "RAISE SQLSTATE 'PGRST'" error`, details, hint)
}

// InvalidPreferences is PGRST122: Prefer: handling=strict with preferences
// pgrest does not know.
func InvalidPreferences(invalid []string) *Error { // PGRST122
	return New(http.StatusBadRequest, "PGRST122", "Invalid preferences given with handling=strict",
		"Invalid preferences: "+strings.Join(invalid, ", "), "")
}

// MaxAffectedViolation is PGRST124: Prefer: max-affected with
// handling=strict and more rows touched.
func MaxAffectedViolation(n int64) *Error { // PGRST124
	return New(http.StatusBadRequest, "PGRST124", "Query result exceeds max-affected preference constraint",
		"The query affects "+strconv.FormatInt(n, 10)+" rows", "")
}

// InvalidPath is PGRST125: the URL path names no resource kind pgrest serves.
func InvalidPath() *Error { // PGRST125
	return New(http.StatusNotFound, "PGRST125", "Invalid path specified in request URL", "", "")
}

// RootDisabled is PGRST126: the root endpoint with openapi-mode = disabled.
func RootDisabled() *Error { // PGRST126
	return New(http.StatusNotFound, "PGRST126", "Root endpoint metadata is disabled", "", "")
}

// JWTSecretMissing is PGRST300: a token arrived and no key is configured.
func JWTSecretMissing() *Error { // PGRST300
	return New(http.StatusInternalServerError, "PGRST300", "Server lacks JWT secret", "", "")
}

// JWTDecodeError is PGRST301: the token can't be decoded or verified. The
// WWW-Authenticate header names the problem (RFC 6750), quoted the way
// PostgREST shows a string.
func JWTDecodeError(message, details string) *Error { // PGRST301
	return invalidToken("PGRST301", message, details)
}

// JWTClaimsError is PGRST303: the token verified but a claim is unacceptable.
func JWTClaimsError(message string) *Error { // PGRST303
	return invalidToken("PGRST303", message, "")
}

func invalidToken(code, message, details string) *Error {
	e := New(http.StatusUnauthorized, code, message, details, "")
	e.Headers = map[string]string{"WWW-Authenticate": `Bearer error="invalid_token", error_description=` + strconv.Quote(message)}
	return e
}

// AnonymousDisabled is PGRST302: no token and no db-anon-role to fall back on.
func AnonymousDisabled() *Error { // PGRST302
	e := New(http.StatusUnauthorized, "PGRST302", "Anonymous access is disabled", "", "")
	e.Headers = map[string]string{"WWW-Authenticate": "Bearer"}
	return e
}
