package integration

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The LISTEN connection killed in the middle of a DDL burst: no event is
// lost. The check avoids requests to the new tables (a 404 makes pgrest
// look at the catalog itself); the version must reach the event log's
// newest id and the OpenAPI document must list every table.
func TestListenerKilledMidBurstLosesNoEvent(t *testing.T) {
	db := NewDB(t, `CREATE TABLE seed (id int); GRANT SELECT ON seed TO web_anon;`)
	migrate(t, db)
	p := StartPgrest(t, db, nil)
	p.Get("/seed").Expect(t, 200)
	super := superConn(t, db)
	const n = 30
	for i := 0; i < n; i++ {
		SQL(t, db, fmt.Sprintf(`CREATE TABLE burst_%d (id int); GRANT SELECT ON burst_%d TO web_anon;`, i, i))
		if i == n/3 || i == 2*n/3 {
			killListener(t, super, db)
		}
	}
	want := latestEvent(t, db)
	deadline := time.Now().Add(30 * time.Second) // a bound on the test, not a target
	for {
		v, _ := strconv.ParseInt(p.Get("/seed").Header.Get("X-Schema-Version"), 10, 64)
		if v >= want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("schema version %d never reached the log's %d", v, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	doc := string(p.Get("/").Expect(t, 200).Body)
	for i := 0; i < n; i++ {
		if !strings.Contains(doc, fmt.Sprintf(`"/burst_%d"`, i)) {
			t.Errorf("burst_%d is missing from the schema cache", i)
		}
	}
}

// killListener terminates pgrest's LISTEN backend, waiting for one to exist
// (after a kill, pgrest reconnects with a backoff).
func killListener(t *testing.T, super *pgx.Conn, db string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var killed int
		err := super.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE datname = $1 AND usename = 'authenticator' AND query ILIKE 'listen %'`, db).Scan(&killed)
		if err != nil {
			t.Fatal(err)
		}
		if killed > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no LISTEN connection to terminate")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
