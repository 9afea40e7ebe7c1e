package apierr

import (
	"net/http"
	"strconv"
)

// Batch errors (pgrest-only). PostgREST has no batches; PGRST6xx is a range
// it does not use, so these codes never mean something else to a client.

// BatchInvalid is PGRST600: the batch body is not a list of operations.
func BatchInvalid(details string) *Error { // pgrest: PGRST600
	return New(http.StatusBadRequest, "PGRST600", "Invalid batch", details,
		`A batch is a JSON array of {"method", "path", "headers", "body"} objects`)
}

// BatchTooLarge is PGRST601: more operations than pgrest-batch-max-operations.
func BatchTooLarge(n, max int) *Error { // pgrest: PGRST601
	return New(http.StatusRequestEntityTooLarge, "PGRST601", "Too many operations in the batch",
		"The batch has "+strconv.Itoa(n)+" operations, the limit is "+strconv.Itoa(max),
		"Raise pgrest-batch-max-operations, or send several batches")
}

// BatchBadPointer is PGRST602: a reference is not a JSON pointer into an
// earlier result.
func BatchBadPointer(op int, ptr, why string) *Error { // pgrest: PGRST602
	return New(http.StatusBadRequest, "PGRST602", "Malformed reference in operation "+strconv.Itoa(op),
		"'"+ptr+"': "+why, `A reference is a JSON pointer starting with an operation index, e.g. "/0/body/0/id"`)
}

// BatchForwardRef is PGRST603: a reference to the operation itself or a later one.
func BatchForwardRef(op, target int, ptr string) *Error { // pgrest: PGRST603
	return New(http.StatusBadRequest, "PGRST603", "Operation "+strconv.Itoa(op)+" refers to operation "+strconv.Itoa(target)+", which has not run before it",
		"'"+ptr+"'", "An operation can only refer to the results of operations listed before it")
}

// BatchMissingRef is PGRST604: the pointer finds nothing in the earlier result.
func BatchMissingRef(op int, ptr string) *Error { // pgrest: PGRST604
	return New(http.StatusBadRequest, "PGRST604", "Reference in operation "+strconv.Itoa(op)+" points to nothing",
		"'"+ptr+"' is not in the earlier results", "Ask the earlier operation for the value (e.g. Prefer: return=representation)")
}

// BatchOperationInvalid is PGRST605: an operation asks for something a batch
// cannot do (a method, path or header outside what batches carry).
func BatchOperationInvalid(op int, details string) *Error { // pgrest: PGRST605
	return New(http.StatusBadRequest, "PGRST605", "Operation "+strconv.Itoa(op)+" cannot be part of a batch", details, "")
}
