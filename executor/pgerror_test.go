package executor

import (
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestPgStatus(t *testing.T) {
	cases := []struct {
		code string
		auth bool
		want int
	}{
		{"08006", false, 503}, {"09000", false, 500}, {"0L000", false, 403}, {"0P000", false, 403},
		{"23503", false, 409}, {"23505", false, 409}, {"25006", false, 405}, {"25001", false, 500},
		{"28000", false, 403}, {"2D000", false, 500}, {"38000", false, 500}, {"39000", false, 500},
		{"3B000", false, 500}, {"40001", false, 500}, {"53400", false, 500}, {"53100", false, 503},
		{"54001", false, 500}, {"55000", false, 500}, {"57014", false, 500}, {"57P01", false, 503}, {"58000", false, 500},
		{"F0000", false, 500}, {"HV000", false, 500}, {"P0001", false, 400}, {"P0002", false, 500},
		{"XX000", false, 500}, {"42883", false, 404}, {"42P01", false, 404}, {"42P17", false, 500},
		{"42501", false, 401}, {"42501", true, 403}, {"42703", false, 400}, {"22P02", false, 400},
		{"23502", false, 400}, {"PT402", false, 402},
	}
	for _, c := range cases {
		if got := pgStatus(c.code, c.auth); got != c.want {
			t.Errorf("pgStatus(%s, %v) = %d, want %d", c.code, c.auth, got, c.want)
		}
	}
}

func TestPgStatusByMessage(t *testing.T) {
	cases := []struct {
		code, msg string
		want      int
	}{
		{"21000", "more than one row returned by a subquery used as an expression", 500},
		{"21000", "DELETE requires a WHERE clause", 400},
		{"21000", "UPDATE requires a WHERE clause", 400},
		{"22023", `role "nobody" does not exist`, 401},
		{"22023", "invalid value for parameter", 400},
		{"42883", "function xmlagg(integer) does not exist", 406},
		{"42883", "function f(integer) does not exist", 404},
		{"PTxyz", "bad", 500},
	}
	for _, c := range cases {
		if got := pgStatusFor(&pgconn.PgError{Code: c.code, Message: c.msg}, false); got != c.want {
			t.Errorf("pgStatusFor(%s, %q) = %d, want %d", c.code, c.msg, got, c.want)
		}
	}
}

func TestCustomRaise(t *testing.T) {
	e := fromPg(&pgconn.PgError{Code: "PGRST",
		Message: `{"code":"123","message":"Payment Required","details":"Quota exceeded","hint":"Upgrade"}`,
		Detail:  `{"status":402,"headers":{"X-Powered-By":"Nerd Rage"}}`}, false)
	if e.Status != 402 || e.Code != "123" || e.Message != "Payment Required" || e.Details != "Quota exceeded" || e.Hint != "Upgrade" || e.Headers["X-Powered-By"] != "Nerd Rage" {
		t.Fatalf("unexpected %+v", e)
	}
	bad := fromPg(&pgconn.PgError{Code: "PGRST", Message: "not json", Detail: `{"status":402}`}, false)
	if bad.Code != "PGRST121" || bad.Status != 500 {
		t.Fatalf("bad message json: %+v", bad)
	}
	bad = fromPg(&pgconn.PgError{Code: "PGRST", Message: `{"code":"1","message":"m"}`, Detail: `nope`}, false)
	if bad.Code != "PGRST121" {
		t.Fatalf("bad detail json: %+v", bad)
	}
}
