package integration

import (
	"strings"
	"testing"
)

// TestSessionEndedIsPGRST001: a request whose database session the server
// ends (here the function terminates its own backend, as an operator's
// pg_terminate_backend would) answers 503 PGRST001 with libpq's wording,
// as PostgREST does, and the error is logged.
func TestSessionEndedIsPGRST001(t *testing.T) {
	db := NewDB(t, `
CREATE FUNCTION end_my_session() RETURNS boolean LANGUAGE sql SECURITY DEFINER
  AS $$ SELECT pg_terminate_backend(pg_backend_pid()) $$;
GRANT EXECUTE ON FUNCTION end_my_session() TO web_anon;`)
	var buf syncBuffer
	p := startLogging(t, BaseConfig(db), &buf)
	p.WaitReady()
	e := p.Do("POST", "/rpc/end_my_session", "{}", "Content-Type: application/json").ExpectError(t, 503, "PGRST001")
	if e["details"] != "no connection to the server\n" || e["message"] != "Database client error. Retrying the connection." {
		t.Fatalf("unexpected body %v", e)
	}
	if log := buf.String(); !strings.Contains(log, `PGRST001`) || !strings.Contains(log, `no connection to the server`) {
		t.Fatalf("the error is not in the log:\n%s", buf.String())
	}
	// The pool recovers: the next request runs on a fresh session (and
	// ends it again).
	p.Do("POST", "/rpc/end_my_session", "", "Content-Type: application/json").ExpectError(t, 503, "PGRST001")
}
