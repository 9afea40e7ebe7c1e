package executor

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pgrest/pgrest/apierr"
)

// pgStatus maps a SQLSTATE to PostgREST's HTTP status (references/errors).
// 42501 depends on whether the request was authenticated.
func pgStatus(code string, authenticated bool) int {
	switch code {
	case "23503", "23505":
		return http.StatusConflict
	case "25006":
		return http.StatusMethodNotAllowed
	case "53400":
		return http.StatusInternalServerError
	case "P0001":
		return http.StatusBadRequest
	case "42883", "42P01":
		return http.StatusNotFound
	case "42P17":
		return http.StatusInternalServerError
	case "57P01", "57P02", "57P03": // the server went away: a connection error
		return http.StatusServiceUnavailable
	case "42501":
		if authenticated {
			return http.StatusForbidden
		}
		return http.StatusUnauthorized
	}
	if len(code) < 2 {
		return http.StatusInternalServerError
	}
	switch code[:2] {
	case "08", "53":
		return http.StatusServiceUnavailable
	case "0L", "0P", "28":
		return http.StatusForbidden
	case "09", "25", "2D", "38", "39", "3B", "40", "54", "55", "57", "58", "F0", "HV", "P0", "XX":
		return http.StatusInternalServerError
	}
	if strings.HasPrefix(code, "PT") { // RAISE SQLSTATE 'PT404' sets the status directly
		if s, err := strconv.Atoi(code[2:]); err == nil && s >= 100 && s < 600 {
			return s
		}
		return http.StatusInternalServerError // PT not followed by a status
	}
	return http.StatusBadRequest
}

// pgStatusFor refines pgStatus for the codes whose status PostgREST picks
// by the message: a server-side cardinality violation is the server's
// fault unless pg-safeupdate refused an unfiltered write, a JWT naming a
// role that does not exist is not authorized, and an undefined xmlagg means
// the XML media type cannot be produced.
func pgStatusFor(pe *pgconn.PgError, authenticated bool) int {
	switch pe.Code {
	case "21000":
		if strings.HasSuffix(pe.Message, "requires a WHERE clause") {
			return http.StatusBadRequest
		}
		return http.StatusInternalServerError
	case "22023":
		if strings.HasPrefix(pe.Message, "role") && strings.HasSuffix(pe.Message, "does not exist") {
			return http.StatusUnauthorized
		}
	case "42883":
		if strings.HasPrefix(pe.Message, "function xmlagg(") {
			return http.StatusNotAcceptable
		}
	}
	return pgStatus(pe.Code, authenticated)
}

// fromPg converts a PostgreSQL error into the API error PostgREST would send.
func fromPg(pe *pgconn.PgError, authenticated bool) *apierr.Error {
	if pe.Code == "PGRST" {
		return customRaise(pe)
	}
	e := &apierr.Error{Status: pgStatusFor(pe, authenticated), Code: pe.Code, Message: pe.Message}
	if pe.Detail != "" {
		e.Details = pe.Detail
	}
	if pe.Hint != "" {
		e.Hint = pe.Hint
	}
	if e.Status == http.StatusUnauthorized {
		e.Headers = map[string]string{"WWW-Authenticate": "Bearer"}
	}
	return e
}

// customRaise handles RAISE SQLSTATE 'PGRST' USING MESSAGE = json, DETAIL = json:
// the message holds code/message/details/hint, the detail holds status and
// headers (references/errors "Raise errors with HTTP Status Codes").
func customRaise(pe *pgconn.PgError) *apierr.Error {
	var msg struct {
		Code    *string `json:"code"`
		Message *string `json:"message"`
		Details any     `json:"details"`
		Hint    any     `json:"hint"`
	}
	if err := json.Unmarshal([]byte(pe.Message), &msg); err != nil {
		return apierr.RaiseJSONError("Invalid JSON value for MESSAGE: '"+pe.Message+"'", "MESSAGE must be a JSON object with obligatory keys: 'code', 'message' and optional keys: 'details', 'hint'.")
	}
	var det struct {
		Status  *int              `json:"status"`
		Headers map[string]string `json:"headers"`
	}
	if pe.Detail == "" {
		return apierr.RaiseJSONError("DETAIL is missing in the RAISE statement", "DETAIL must be a JSON object with obligatory keys: 'status', 'headers' and optional key: 'status_text'.")
	}
	if err := json.Unmarshal([]byte(pe.Detail), &det); err != nil || det.Status == nil {
		return apierr.RaiseJSONError("Invalid JSON value for DETAIL: '"+pe.Detail+"'", "DETAIL must be a JSON object with obligatory keys: 'status', 'headers' and optional key: 'status_text'.")
	}
	e := &apierr.Error{Status: *det.Status, Details: msg.Details, Hint: msg.Hint, Headers: det.Headers}
	if msg.Code != nil {
		e.Code = *msg.Code
	}
	if msg.Message != nil {
		e.Message = *msg.Message
	}
	return e
}

// errConnection is PGRST001: the database is unreachable or the connection broke.
func errConnection(err error) *apierr.Error {
	return apierr.ConnectionRetrying(err.Error())
}

// ToAPIError classifies any execution error.
func ToAPIError(err error, authenticated bool) *apierr.Error {
	var ae *apierr.Error
	if errors.As(err, &ae) {
		return ae
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		if pe.Severity == "FATAL" || pe.Severity == "PANIC" {
			// The server ended the session (pg_terminate_backend, a
			// restart): PostgREST reports it as its client library
			// sees it, a connection error, not the statement's.
			return apierr.ConnectionRetrying(noConnection)
		}
		return fromPg(pe, authenticated)
	}
	return errConnection(err)
}

// noConnection is libpq's wording for a session the server has closed,
// which PostgREST passes on as the details of PGRST001.
const noConnection = "no connection to the server\n"
