package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/pgrest/pgrest/migrations"
	"github.com/pgrest/pgrest/server/config"
)

// Two pgrest instances on one database: one hears DDL events at once, the
// other only polls. A client that passes on the newest X-Schema-Version it
// saw, whichever instance it talks to, never sees an older schema again.
func TestInstancesAgreeOnSchemaVersion(t *testing.T) {
	db := NewDB(t, `CREATE TABLE gauges (id int PRIMARY KEY); INSERT INTO gauges VALUES (1);
GRANT SELECT ON gauges TO web_anon;`)
	migrate(t, db)
	fast := StartPgrest(t, db, nil)
	slow := StartPgrest(t, db, func(c *config.Config) {
		c.DBChannelEnabled = false
		c.SchemaPollInterval = 300 * time.Millisecond
	})

	const migrationsRun = 4
	done := make(chan struct{})
	go func() {
		defer close(done)
		for k := 1; k <= migrationsRun; k++ {
			time.Sleep(150 * time.Millisecond)
			if err := pg.Exec(context.Background(), db, fmt.Sprintf("ALTER TABLE gauges ADD COLUMN c%d int DEFAULT %d", k, k)); err != nil {
				t.Error(err)
				return
			}
		}
	}()

	var seen int64 // the newest version the client has seen
	cols, requests := 0, 0
	ask := func(p *Pgrest) {
		t.Helper()
		res := p.Get("/gauges", "X-Schema-Version-Min: "+strconv.FormatInt(seen, 10)).Expect(t, 200)
		v, err := strconv.ParseInt(res.Header.Get("X-Schema-Version"), 10, 64)
		if err != nil {
			t.Fatalf("X-Schema-Version %q", res.Header.Get("X-Schema-Version"))
		}
		var rows []map[string]any
		if err := json.Unmarshal(res.Body, &rows); err != nil || len(rows) != 1 {
			t.Fatalf("body %s", res.Body)
		}
		if v < seen || len(rows[0]) < cols {
			t.Fatalf("request %d went back: version %d after %d, %d columns after %d", requests, v, seen, len(rows[0]), cols)
		}
		seen, cols = v, len(rows[0])
		requests++
	}
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		ask(fast)
		ask(slow)
	}
	latest, _, err := migrations.LatestEventID(context.Background(), superConn(t, db))
	if err != nil {
		t.Fatal(err)
	}
	seen = latest
	ask(slow)
	ask(fast)
	if cols != migrationsRun+1 {
		t.Fatalf("after the migrations: %d columns", cols)
	}
	for _, p := range []*Pgrest{fast, slow} {
		if v := p.App.Holder().Load().Version; v != latest {
			t.Errorf("an instance serves version %d, the event log is at %d", v, latest)
		}
	}
	t.Logf("%d requests across two instances, final version %d", requests, latest)
}

// The event log records each event's WAL position; `pgrest migrate` adds
// the column to an install that predates it, and changes nothing when run
// again.
func TestMigrateRecordsEventLSN(t *testing.T) {
	db := NewDB(t, "")
	conn := superConn(t, db)
	ctx := context.Background()
	apply := func() []string {
		t.Helper()
		applied, err := migrations.Apply(ctx, conn, "pgrst")
		if err != nil {
			t.Fatal(err)
		}
		return applied
	}
	apply()
	// An install from before the column.
	SQL(t, db, `ALTER TABLE pgrest.ddl_events DROP COLUMN lsn;
DELETE FROM pgrest.migrations WHERE name = '002_event_lsn.sql';
CREATE TABLE before_lsn (id int)`)
	if got := apply(); len(got) != 1 || got[0] != "002_event_lsn.sql" {
		t.Fatalf("upgrade applied %v", got)
	}
	if got := apply(); len(got) != 0 {
		t.Fatalf("a second run applied %v", got)
	}
	SQL(t, db, `CREATE TABLE after_lsn (id int)`)
	var before, after *string
	if err := conn.QueryRow(ctx, `SELECT (SELECT lsn::text FROM pgrest.ddl_events WHERE object_identity = 'public.before_lsn' LIMIT 1),
		(SELECT lsn::text FROM pgrest.ddl_events WHERE object_identity = 'public.after_lsn' LIMIT 1)`).Scan(&before, &after); err != nil {
		t.Fatal(err)
	}
	if before != nil || after == nil {
		t.Fatalf("event positions: before the upgrade %v, after %v", before, after)
	}
}
