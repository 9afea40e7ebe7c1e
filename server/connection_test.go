package server

import (
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestConnectionErrorKinds(t *testing.T) {
	for code, fatal := range map[string]bool{"28P01": true, "28000": true, "3D000": true, "57P03": false, "53300": false} {
		if got := fatalConnError(&pgconn.PgError{Code: code}); got != fatal {
			t.Errorf("%s: fatal %v", code, got)
		}
	}
	if fatalConnError(errors.New("dial tcp: connection refused")) {
		t.Error("a refused connection is retried")
	}
	if got := pgName("PostgreSQL 13.4 on x86_64-pc-linux-gnu, compiled by gcc"); got != "PostgreSQL 13.4" {
		t.Errorf("pgName = %q", got)
	}
}
