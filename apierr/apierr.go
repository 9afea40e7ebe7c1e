// Package apierr holds the one error type every layer returns to the HTTP
// edge, so that a parse, plan or database failure is rendered with
// PostgREST's body shape and status without the edge knowing who raised it.
package apierr

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// Error is a PostgREST-style error. Details and Hint are `any` because
// PostgREST emits null when absent and RAISE ... USING can put JSON there.
type Error struct {
	Status  int               `json:"-"`
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Details any               `json:"details"`
	Hint    any               `json:"hint"`
	Headers map[string]string `json:"-"`
	// Body, when set, replaces the marshalled error (RAISE 'PGRST' custom bodies).
	Body []byte `json:"-"`
	// Minimal leaves details and hint out of the body
	// (client-error-verbosity = minimal): they can reveal schema internals.
	Minimal bool `json:"-"`
}

// Error is "CODE: message", for logs.
func (e *Error) Error() string { return e.Code + ": " + e.Message }

// JSON renders the body exactly as PostgREST does: all four keys, nulls
// kept, unless Minimal.
func (e *Error) JSON() []byte {
	if e.Body != nil {
		return e.Body
	}
	// Written as PostgREST writes it: '<', '>' and '&' stay as they are.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if e.Minimal {
		_ = enc.Encode(struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		}{e.Code, e.Message})
		return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	}
	_ = enc.Encode(struct {
		Code    string `json:"code"`
		Details any    `json:"details"`
		Hint    any    `json:"hint"`
		Message string `json:"message"`
	}{e.Code, e.Details, e.Hint, e.Message})
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// New builds an error; details and hint may be "" for null.
func New(status int, code, message, details, hint string) *Error {
	e := &Error{Status: status, Code: code, Message: message}
	if details != "" {
		e.Details = details
	}
	if hint != "" {
		e.Hint = hint
	}
	return e
}

// Parse-stage helpers used by the request parser and planner. Each maps to a
// PGRST code documented at references/errors.

// ParseError is PGRST100: the URL grammar could not be read.
func ParseError(message, details string) *Error { // PGRST100
	return New(http.StatusBadRequest, "PGRST100", message, details, "")
}

// InvalidBody is PGRST102: the body is not what the request needs.
func InvalidBody(details string) *Error { // PGRST102
	return New(http.StatusBadRequest, "PGRST102", "Empty or invalid json", details, "")
}

// BodyTooLarge is answered before the body is read when Content-Length
// already exceeds pgrest-max-body-size, and as soon as a chunked body passes it.
func BodyTooLarge(limit int64) *Error { // pgrest: PGRST413
	return New(http.StatusRequestEntityTooLarge, "PGRST413", "Request body too large",
		"The request body exceeds "+strconv.FormatInt(limit, 10)+" bytes",
		"Raise pgrest-max-body-size, or send the data in smaller requests")
}

// BodyStalled is a body that stopped arriving for pgrest-body-timeout.
func BodyStalled() *Error { // pgrest: PGRST408
	return New(http.StatusRequestTimeout, "PGRST408", "Request body not received in time", "", "")
}

// BodyReadError maps a failed body read to the client's mistake it is.
func BodyReadError(err error) *Error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return BodyTooLarge(mbe.Limit)
	}
	var to interface{ Timeout() bool }
	if errors.As(err, &to) && to.Timeout() {
		return BodyStalled()
	}
	return InvalidBody(err.Error())
}

// NotImplemented is PGRST127, PostgREST's "Feature not implemented".
func NotImplemented(details string) *Error { // PGRST127
	return New(http.StatusBadRequest, "PGRST127", "Feature not implemented", details, "")
}

// NotAcceptable is PGRST107: no offered media type matches Accept.
func NotAcceptable(accept string) *Error { // PGRST107
	return New(http.StatusNotAcceptable, "PGRST107", "None of these media types are available: "+accept, "", "")
}

// InvalidRange is PGRST103: a Range header or limit/offset that cannot be served.
func InvalidRange(details string) *Error { // PGRST103
	return New(http.StatusRequestedRangeNotSatisfiable, "PGRST103", "Requested range not satisfiable", details, "")
}

// Errorf builds an error whose message is formatted.
func Errorf(status int, code, format string, args ...any) *Error {
	return New(status, code, fmt.Sprintf(format, args...), "", "")
}

// As returns the catalogue error inside err, or nil when err is nil or not
// one: layers return plain `error`, and the edge (and tests) look inside.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}
