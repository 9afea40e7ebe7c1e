package apierr

import (
	"net/http"
	"strconv"
)

// Realtime subscriptions (Accept: text/event-stream) are pgrest's own;
// their codes sit in the PGRST9xx range, which PostgREST does not use.

// RealtimeUnavailable is PGRST901: logical replication can't start (a
// missing wal_level, publication or REPLICATION attribute, named in message).
func RealtimeUnavailable(message, details string) *Error { // PGRST901
	return New(http.StatusServiceUnavailable, "PGRST901", "Realtime is not available: "+message, details, "")
}

// RealtimeDisabled is PGRST902: pgrest-realtime-enabled is false.
func RealtimeDisabled() *Error { // PGRST902
	return New(http.StatusNotImplemented, "PGRST902", "Realtime subscriptions are disabled", "pgrest-realtime-enabled is false", "")
}

// RealtimeTooMany is PGRST903: pgrest-realtime-max-subscriptions are open.
func RealtimeTooMany(max int) *Error { // PGRST903
	return New(http.StatusServiceUnavailable, "PGRST903", "Too many realtime subscriptions",
		"pgrest-realtime-max-subscriptions is "+strconv.Itoa(max), "Retry later.")
}

// RealtimeNeedsKey is PGRST904: changes are re-read by primary key, so only
// tables with one can be watched.
func RealtimeNeedsKey(qualified string) *Error { // PGRST904
	return New(http.StatusBadRequest, "PGRST904", "Realtime subscriptions need a table with a primary key",
		"'"+qualified+"' is not a table with a primary key", "")
}

// InvalidLastEventID is PGRST905: a Last-Event-ID that is no event id.
func InvalidLastEventID(id string) *Error { // PGRST905
	return New(http.StatusBadRequest, "PGRST905", "Invalid Last-Event-ID header",
		"expected an event id such as 0/16B3748:0, got '"+id+"'", "")
}

// RealtimeDropped is PGRST906, sent as the last event of a subscriber
// that fell too far behind (or was ended for reason).
func RealtimeDropped(reason string) *Error { // PGRST906
	return New(http.StatusServiceUnavailable, "PGRST906", reason, "", "")
}
