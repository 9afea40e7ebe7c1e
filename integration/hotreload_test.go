package integration

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pgrest/pgrest/cache"
	"github.com/pgrest/pgrest/migrations"
	"github.com/pgrest/pgrest/server/config"
)

// superConn connects to db as the superuser for the rest of the test.
func superConn(t testing.TB, db string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), pg.URI("postgres", db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func migrate(t testing.TB, db string) { migrateConn(t, superConn(t, db)) }

func migrateConn(t testing.TB, conn *pgx.Conn) {
	t.Helper()
	if _, err := migrations.Apply(context.Background(), conn, "pgrst"); err != nil {
		t.Fatal(err)
	}
}

func latestEvent(t *testing.T, db string) int64 {
	t.Helper()
	id, _, err := migrations.LatestEventID(context.Background(), superConn(t, db))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// eventually retries a request until it answers status (DDL visibility is
// asynchronous: the assertion is on the outcome, with a deadline).
func eventually(t *testing.T, p *Pgrest, path string, status int) *Resp {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := p.Get(path)
		if r.Status == status {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: status %d, want %d within 10s: %s", path, r.Status, status, r.Body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// S6: after `pgrest migrate`, DDL is applied from events, no NOTIFY needed;
// versions are event ids and X-Schema-Version-Min reads your own DDL.
func TestHotReloadFromEvents(t *testing.T) {
	db := NewDB(t, `CREATE TABLE a (id int); GRANT SELECT ON a TO web_anon;`)
	migrate(t, db)
	p := StartPgrest(t, db, func(c *config.Config) { c.SchemaWaitTimeout = 5 * time.Second })
	v0, _ := strconv.ParseInt(p.Get("/a").Expect(t, 200).Header.Get("X-Schema-Version"), 10, 64)

	SQL(t, db, `CREATE TABLE b (id int); INSERT INTO b VALUES (7); GRANT SELECT ON b TO web_anon;`)
	ev := latestEvent(t, db)
	if ev <= v0 {
		t.Fatalf("event id %d not above version %d", ev, v0)
	}
	// Read-your-DDL: the header makes the request wait for that version.
	r := p.Get("/b", "X-Schema-Version-Min: "+strconv.FormatInt(ev, 10)).Expect(t, 200)
	r.JSONEq(t, `[{"id":7}]`)
	if v, _ := strconv.ParseInt(r.Header.Get("X-Schema-Version"), 10, 64); v < ev {
		t.Fatalf("served by version %d, asked for %d", v, ev)
	}

	SQL(t, db, `ALTER TABLE b ADD COLUMN label text`)
	eventually(t, p, "/b?select=id,label", 200).JSONEq(t, `[{"id":7,"label":null}]`)

	SQL(t, db, `CREATE FUNCTION b_count() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM b'`)
	ev = latestEvent(t, db)
	p.Get("/b", "X-Schema-Version-Min: "+strconv.FormatInt(ev, 10)).Expect(t, 200)
	if fs := p.App.Holder().Load().Functions; len(fs) == 0 {
		t.Fatal("the new function is not in the schema cache")
	}

	SQL(t, db, `DROP TABLE b`)
	eventually(t, p, "/b", 404)
}

// S4: PostgREST's NOTIFY works on a database without the event log.
func TestHotReloadNotify(t *testing.T) {
	db := NewDB(t, `CREATE TABLE a (id int); GRANT SELECT ON a TO web_anon;`)
	p := StartPgrest(t, db, nil)
	p.Get("/a").Expect(t, 200)
	// Poll the schema cache itself, not the API: a request for a missing
	// table would also trigger a reload through the 404 fallback.
	inCache := func(name, col string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if r := p.App.Holder().Load().Relation("public", name); r != nil && (col == "" || r.Column(col) != nil) {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("%s.%s did not reach the schema cache after NOTIFY", name, col)
	}
	SQL(t, db, `CREATE TABLE c (id int); GRANT SELECT ON c TO web_anon; NOTIFY pgrst, 'reload schema';`)
	inCache("c", "")
	p.Get("/c").Expect(t, 200)
	SQL(t, db, `ALTER TABLE c ADD COLUMN extra int; NOTIFY pgrst;`)
	inCache("c", "extra")
	p.Get("/c?select=extra").Expect(t, 200)
}

// S5/S6: the listener's connection is killed while DDL happens; after it
// reconnects it catches up, nothing is lost.
func TestHotReloadListenerKilled(t *testing.T) {
	db := NewDB(t, `CREATE TABLE a (id int); GRANT SELECT ON a TO web_anon;`)
	migrate(t, db)
	p := StartPgrest(t, db, func(c *config.Config) { c.DBChannelEnabled = true })
	p.Get("/a").Expect(t, 200)
	SQL(t, db, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND datname = current_database()`)
	SQL(t, db, `CREATE TABLE during_outage (id int); GRANT SELECT ON during_outage TO web_anon;`)
	// Disable the 404 fallback path's help: go through the version header,
	// which only the listener can satisfy.
	ev := latestEvent(t, db)
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := p.Get("/a", "X-Schema-Version-Min: "+strconv.FormatInt(ev, 10))
		if r.Status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("listener did not catch up after being killed: %d %s", r.Status, r.Body)
		}
	}
	p.Get("/during_outage").Expect(t, 200)
}

// S7 fallback: with no channel and no polling, a request naming a table
// created after the last load triggers a catalog check and a reload.
func TestHotReloadMissingObject(t *testing.T) {
	db := NewDB(t, `CREATE TABLE a (id int); GRANT SELECT ON a TO web_anon;`)
	p := StartPgrest(t, db, func(c *config.Config) { c.DBChannelEnabled = false })
	p.Get("/late").ExpectError(t, 404, "PGRST205")
	SQL(t, db, `CREATE TABLE late (id int); GRANT SELECT ON late TO web_anon;`)
	time.Sleep(1100 * time.Millisecond) // the catalog check is rate-limited to once a second per name
	p.Get("/late").Expect(t, 200)
}

// S7: a client hammers a table while migrations run: no 5xx, no stall.
func TestHotReloadMigrationHammer(t *testing.T) {
	db := NewDB(t, `CREATE TABLE hot (id int PRIMARY KEY, v text); INSERT INTO hot SELECT g, 'x' FROM generate_series(1, 50) g; GRANT SELECT ON hot TO web_anon;`)
	migrate(t, db)
	p := StartPgrest(t, db, nil)
	var requests, failures, slow atomic.Int64
	var worst atomic.Int64
	stop := underLoad(4, func() {
		start := time.Now()
		r := p.Get("/hot?select=id,v&id=lte.10")
		d := time.Since(start)
		requests.Add(1)
		if r.Status >= 500 || r.Status != 200 {
			failures.Add(1)
			t.Logf("status %d: %s", r.Status, r.Body)
		}
		if d > time.Second {
			slow.Add(1)
		}
		if int64(d) > worst.Load() {
			worst.Store(int64(d))
		}
	})
	for i := 0; i < 30; i++ {
		SQL(t, db, fmt.Sprintf(`ALTER TABLE hot ADD COLUMN c%d int; CREATE TABLE other%d (id int); CREATE VIEW v%d AS SELECT * FROM other%d`, i, i, i, i))
		SQL(t, db, fmt.Sprintf(`ALTER TABLE hot DROP COLUMN c%d; DROP VIEW v%d; DROP TABLE other%d`, i, i, i))
	}
	time.Sleep(200 * time.Millisecond)
	stop()
	t.Logf("%d requests during 60 migrations, worst latency %s", requests.Load(), time.Duration(worst.Load()))
	if failures.Load() > 0 || slow.Load() > 0 {
		t.Fatalf("%d failed and %d slow (>1s) requests out of %d", failures.Load(), slow.Load(), requests.Load())
	}
	if st := p.App.Schema().Stats(); st.Loads < 2 {
		t.Fatalf("expected reloads during the migrations, got %d", st.Loads)
	}
}

// S3 fallback: where no event or NOTIFY arrives, catalog fingerprint
// polling notices DDL by itself.
func TestHotReloadFingerprintPolling(t *testing.T) {
	db := NewDB(t, `CREATE TABLE a (id int); GRANT SELECT ON a TO web_anon;`)
	p := StartPgrest(t, db, func(c *config.Config) {
		c.DBChannelEnabled = false
		c.SchemaPollInterval = 100 * time.Millisecond
	})
	SQL(t, db, `ALTER TABLE a ADD COLUMN polled int`)
	deadline := time.Now().Add(10 * time.Second)
	for p.App.Holder().Load().Relation("public", "a").Column("polled") == nil {
		if time.Now().After(deadline) {
			t.Fatal("polling did not pick up the new column")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// `pgrest migrate` as a role that may not create event triggers fails
// with a clear message, not a stack of SQL errors.
func TestMigrateNeedsSuperuser(t *testing.T) {
	db := NewDB(t, "")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg.URI("authenticator", db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	_, err = migrations.Apply(ctx, conn, "pgrst")
	if err == nil || !strings.Contains(err.Error(), "superuser") {
		t.Fatalf("got %v, want a message about needing a superuser", err)
	}
	// Applying twice as a superuser is idempotent.
	migrate(t, db)
	migrate(t, db)
}

// matchesFullLoad waits for the snapshot to reach the newest DDL event and
// checks that it equals a full load of the catalog.
func matchesFullLoad(t *testing.T, p *Pgrest, db string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	snap, ok := p.App.Holder().WaitVersion(ctx, latestEvent(t, db))
	if !ok {
		t.Fatal("the snapshot did not reach the newest event")
	}
	full, err := cache.Load(ctx, superConn(t, db), snap.Schemas)
	if err != nil {
		t.Fatal(err)
	}
	full.Version = snap.Version
	a, _ := snap.Dump()
	b, _ := full.Dump()
	if string(a) != string(b) {
		t.Fatalf("incremental snapshot differs from a full load:\n%s\n---\n%s", a, b)
	}
}

// S6: renames and unique indexes reach the snapshot (their events name
// only the new name, or only the index).
func TestHotReloadRenamesAndIndexes(t *testing.T) {
	db := NewDB(t, `
CREATE TABLE owners (id int PRIMARY KEY, name text);
CREATE TABLE pets (id int PRIMARY KEY, owner_id int REFERENCES owners(id));
INSERT INTO owners VALUES (1, 'ann');
INSERT INTO pets VALUES (10, 1);
GRANT SELECT ON ALL TABLES IN SCHEMA public TO web_anon;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO web_anon;
`)
	migrate(t, db)
	p := StartPgrest(t, db, nil)
	p.Get("/owners?select=id,pets(id)").Expect(t, 200).JSONEq(t, `[{"id":1,"pets":[{"id":10}]}]`)

	SQL(t, db, `CREATE UNIQUE INDEX pets_owner_key ON pets (owner_id)`)
	matchesFullLoad(t, p, db)
	p.Get("/owners?select=id,pets(id)").Expect(t, 200).JSONEq(t, `[{"id":1,"pets":{"id":10}}]`)

	SQL(t, db, `DROP INDEX pets_owner_key`)
	matchesFullLoad(t, p, db)
	p.Get("/owners?select=id,pets(id)").Expect(t, 200).JSONEq(t, `[{"id":1,"pets":[{"id":10}]}]`)

	SQL(t, db, `ALTER TABLE pets RENAME TO animals`)
	matchesFullLoad(t, p, db)
	p.Get("/pets").ExpectError(t, 404, "PGRST205")
	p.Get("/owners?select=id,animals(id)").Expect(t, 200).JSONEq(t, `[{"id":1,"animals":[{"id":10}]}]`)

	SQL(t, db, `ALTER TABLE animals RENAME COLUMN owner_id TO keeper_id; CREATE VIEW animal_view AS SELECT * FROM animals`)
	matchesFullLoad(t, p, db)
	p.Get("/animal_view?select=id,owners(name)").Expect(t, 200).JSONEq(t, `[{"id":10,"owners":{"name":"ann"}}]`)
}
