package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pgrest/pgrest/embedpg"
	"github.com/pgrest/pgrest/migrations"
	"github.com/pgrest/pgrest/server/config"
)

// The replica tests get their own primary (the shared cluster is busy with
// every other test's databases) and a streaming standby made from it.
const replicaFixture = `
CREATE ROLE authenticator LOGIN NOINHERIT;
CREATE ROLE web_anon NOLOGIN;
GRANT web_anon TO authenticator;`

const replicaSchema = `
CREATE FUNCTION whoami() RETURNS text STABLE LANGUAGE sql
  AS $$ SELECT CASE WHEN pg_is_in_recovery() THEN 'replica' ELSE 'primary' END $$;
CREATE FUNCTION whoami_volatile() RETURNS text VOLATILE LANGUAGE sql
  AS $$ SELECT CASE WHEN pg_is_in_recovery() THEN 'replica' ELSE 'primary' END $$;
CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL);
CREATE VIEW notes_seen AS SELECT id, body, whoami() AS server FROM notes;
CREATE VIEW probe AS SELECT whoami() AS server;
GRANT SELECT, INSERT ON notes TO web_anon;
GRANT USAGE ON SEQUENCE notes_id_seq TO web_anon;
GRANT SELECT ON notes_seen, probe TO web_anon;
GRANT EXECUTE ON FUNCTION whoami(), whoami_volatile() TO web_anon;`

type replicaEnv struct {
	primary, standby *embedpg.Cluster
	db               string
}

func startReplicaEnv(t *testing.T) *replicaEnv {
	t.Helper()
	ctx := context.Background()
	primary, err := embedpg.Start(ctx, map[string]string{"wal_level": "replica", "max_wal_senders": "4", "synchronous_commit": "on"})
	if err != nil {
		t.Fatalf("primary: %v", err)
	}
	t.Cleanup(primary.Remove)
	const db = "app"
	if err = primary.Exec(ctx, "postgres", replicaFixture); err != nil {
		t.Fatal(err)
	}
	if err = primary.CreateDatabase(ctx, db); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, primary.URI("postgres", db))
	if err != nil {
		t.Fatal(err)
	}
	if _, err = migrations.Apply(ctx, conn, "pgrst"); err != nil {
		t.Fatal(err)
	}
	_ = conn.Close(ctx)
	if err = primary.Exec(ctx, db, replicaSchema); err != nil {
		t.Fatal(err)
	}
	standby, err := primary.StartStandby(ctx)
	if err != nil {
		t.Fatalf("standby: %v", err)
	}
	t.Cleanup(standby.Remove)
	return &replicaEnv{primary: primary, standby: standby, db: db}
}

func (e *replicaEnv) pgrest(t *testing.T, mod func(*config.Config)) *Pgrest {
	t.Helper()
	cfg := BaseConfig(e.db)
	cfg.DBURI = e.primary.URI("authenticator", e.db)
	cfg.ReplicaURIs = []string{e.standby.URI("authenticator", e.db)}
	cfg.ReplicaCheckInterval = 100 * time.Millisecond
	cfg.ReplicaWaitTimeout = 2 * time.Second
	if mod != nil {
		mod(cfg)
	}
	p := StartPgrestConfig(t, cfg)
	p.WaitReady()
	return p
}

func (e *replicaEnv) standbySQL(t *testing.T, sql string) {
	t.Helper()
	if err := e.standby.Exec(context.Background(), e.db, sql); err != nil {
		t.Fatalf("standby %q: %v", sql, err)
	}
}

// waitReplicaServes waits until a read is answered by the replica.
func waitReplicaServes(t *testing.T, p *Pgrest, path string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if res := p.Get(path); res.Status == 200 && strings.Contains(string(res.Body), `"replica"`) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the replica never answered %s; replicas: %+v", path, p.App.Replicas())
}

func answeredBy(t *testing.T, res *Resp) string {
	t.Helper()
	var rows []map[string]any
	if err := json.Unmarshal(res.Body, &rows); err != nil || len(rows) == 0 {
		t.Fatalf("status %d body %s", res.Status, res.Body)
	}
	s, _ := rows[0]["server"].(string)
	return s
}

func TestReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("starts its own primary and standby")
	}
	env := startReplicaEnv(t)
	p := env.pgrest(t, nil)
	waitReplicaServes(t, p, "/probe")

	t.Run("routing by method and volatility", func(t *testing.T) {
		cases := []struct {
			method, path, want string
		}{
			{"GET", "/probe", "replica"},
			{"GET", "/rpc/whoami", "replica"},
			{"GET", "/rpc/whoami_volatile", "primary"},
			{"POST", "/rpc/whoami", "primary"},
			{"POST", "/rpc/whoami_volatile", "primary"},
		}
		for _, c := range cases {
			res := p.Do(c.method, c.path, "{}", "Content-Type: application/json")
			res.Expect(t, 200)
			got := string(res.Body)
			if c.path == "/probe" {
				got = answeredBy(t, res)
			} else {
				got = strings.Trim(got, `"`)
			}
			if got != c.want {
				t.Errorf("%s %s: answered by %s, want %s", c.method, c.path, got, c.want)
			}
			if res.Header.Get("X-Pgrest-Lsn") != "" {
				t.Errorf("%s %s wrote nothing but carries X-Pgrest-Lsn", c.method, c.path)
			}
		}
		before := p.App.Replicas()[0].Requests
		p.Do("HEAD", "/probe", "").Expect(t, 200)
		if got := p.App.Replicas()[0].Requests; got != before+1 {
			t.Errorf("HEAD did not run on the replica (%d -> %d requests)", before, got)
		}
		res := p.Do("POST", "/notes", `{"body":"routed"}`, "Content-Type: application/json").Expect(t, 201)
		if res.Header.Get("X-Pgrest-Lsn") == "" {
			t.Error("a write's response lacks X-Pgrest-Lsn")
		}
		p.Get("/probe", "X-Pgrest-Min-Lsn: nonsense").ExpectError(t, 400, "PGRST100")
	})

	t.Run("reads per pool", func(t *testing.T) {
		rep0, prim0 := p.App.Replicas()[0].Requests, p.App.PrimaryRequests()
		const reads, writes = 400, 40
		for i := 0; i < reads; i++ {
			p.Get("/notes_seen?select=id&limit=1").Expect(t, 200)
		}
		var waited time.Duration
		for i := 0; i < writes; i++ {
			res := p.Do("POST", "/notes", `{"body":"count"}`, "Content-Type: application/json").Expect(t, 201)
			start := time.Now()
			p.Get("/notes_seen?select=id&limit=1", "X-Pgrest-Min-Lsn: "+res.Header.Get("X-Pgrest-Lsn")).Expect(t, 200)
			waited += time.Since(start)
		}
		onReplica, onPrimary := p.App.Replicas()[0].Requests-rep0, p.App.PrimaryRequests()-prim0
		t.Logf("%d reads and %d writes each read back with X-Pgrest-Min-Lsn: %d ran on the replica, %d on the primary (the writes and %d reads); read-back mean %v",
			reads, writes, onReplica, onPrimary, onPrimary-writes, waited/writes)
		if onReplica < reads {
			t.Errorf("only %d of %d plain reads ran on the healthy replica", onReplica, reads)
		}
	})

	t.Run("read your writes", func(t *testing.T) {
		short := env.pgrest(t, func(c *config.Config) { c.ReplicaWaitTimeout = 200 * time.Millisecond })
		waitReplicaServes(t, short, "/probe")
		env.standbySQL(t, "SELECT pg_wal_replay_pause()")
		res := p.Do("POST", "/notes", `{"body":"mine"}`, "Content-Type: application/json", "Prefer: return=representation").Expect(t, 201)
		lsn := res.Header.Get("X-Pgrest-Lsn")
		id := int(res.JSON(t).([]any)[0].(map[string]any)["id"].(float64))
		path := fmt.Sprintf("/notes_seen?id=eq.%d", id)
		// Without the header the paused replica answers, without the write.
		if body := string(p.Get(path).Expect(t, 200).Body); body != "[]" {
			t.Fatalf("the paused replica already has the write: %s", body)
		}
		// With it, after the bounded wait, the primary answers.
		start := time.Now()
		if s := answeredBy(t, short.Get(path, "X-Pgrest-Min-Lsn: "+lsn).Expect(t, 200)); s != "primary" {
			t.Fatalf("read with X-Pgrest-Min-Lsn answered by %s", s)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("the fallback took %v", d)
		}
		env.standbySQL(t, "SELECT pg_wal_replay_resume()")
		// Replaying again: a write read back at once is seen, on the replica.
		for i := 0; i < 5; i++ {
			res := p.Do("POST", "/notes", `{"body":"again"}`, "Content-Type: application/json", "Prefer: return=representation").Expect(t, 201)
			id := int(res.JSON(t).([]any)[0].(map[string]any)["id"].(float64))
			got := p.Get(fmt.Sprintf("/notes_seen?id=eq.%d", id), "X-Pgrest-Min-Lsn: "+res.Header.Get("X-Pgrest-Lsn")).Expect(t, 200)
			if s := answeredBy(t, got); s != "replica" {
				t.Errorf("write %d read back from %s, want the caught-up replica", i, s)
			}
		}
	})

	t.Run("migration while the replica is paused", func(t *testing.T) {
		env.standbySQL(t, "SELECT pg_wal_replay_pause()")
		// migrated: pgrest serves the new schema; paused: the replica has not
		// replayed it. In between, every read must run on the primary.
		var migrated, paused atomic.Bool
		paused.Store(true)
		var failed, onReplicaNew atomic.Int64
		stop := underLoad(3, func() {
			newSchema, stale := migrated.Load(), paused.Load()
			res, err := get(p, "/notes_seen?select=server,extra&limit=1")
			switch {
			case err != nil:
				failed.Add(1)
			case res.Status == 400 && !newSchema: // the column is not there yet
			case res.Status != 200:
				failed.Add(1)
			}
			// An old-shaped read planned against the new schema.
			r2, err := get(p, "/probe")
			if err != nil || r2.Status != 200 {
				failed.Add(1)
			} else if newSchema && stale && paused.Load() && strings.Contains(string(r2.Body), "replica") {
				// (paused still set after the answer: replay was not resumed
				// while the request ran, so the replica lacked the migration)
				onReplicaNew.Add(1)
			}
		})
		time.Sleep(200 * time.Millisecond)
		SQLOn(t, env.primary, env.db, `CREATE OR REPLACE VIEW notes_seen AS SELECT id, body, whoami() AS server, 'new'::text AS extra FROM notes`)
		conn, err := pgx.Connect(context.Background(), env.primary.URI("postgres", env.db))
		if err != nil {
			t.Fatal(err)
		}
		latest, _, err := migrations.LatestEventID(context.Background(), conn)
		_ = conn.Close(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "pgrest to load the migration", func() bool { return p.App.Holder().Load().Version >= latest })
		migrated.Store(true)
		time.Sleep(500 * time.Millisecond)
		if s := answeredBy(t, p.Get("/notes_seen?select=server,extra&limit=1").Expect(t, 200)); s != "primary" {
			t.Fatalf("new-schema read answered by %s", s)
		}
		paused.Store(false)
		env.standbySQL(t, "SELECT pg_wal_replay_resume()")
		waitReplicaServes(t, p, "/notes_seen?select=server,extra&limit=1")
		stop()
		if n := onReplicaNew.Load(); n != 0 {
			t.Fatalf("%d requests planned against the new schema ran on the paused replica", n)
		}
		if n := failed.Load(); n != 0 {
			t.Fatalf("%d requests failed during the migration", n)
		}
	})

	t.Run("replica killed under load", func(t *testing.T) {
		var ok, failed, onPrimary atomic.Int64
		stop := underLoad(4, func() {
			res, err := get(p, "/probe")
			switch {
			case err != nil || res.Status != 200:
				failed.Add(1)
			default:
				ok.Add(1)
				if strings.Contains(string(res.Body), "primary") {
					onPrimary.Add(1)
				}
			}
		})
		time.Sleep(300 * time.Millisecond)
		if err := env.standby.Kill(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(700 * time.Millisecond)
		stop()
		if failed.Load() != 0 || ok.Load() == 0 || onPrimary.Load() == 0 {
			t.Fatalf("under load with the replica killed: %d ok, %d failed, %d on the primary", ok.Load(), failed.Load(), onPrimary.Load())
		}
		if s := answeredBy(t, p.Get("/probe").Expect(t, 200)); s != "primary" {
			t.Fatalf("with the replica down, read answered by %s", s)
		}
		if err := env.standby.StartServer(context.Background()); err != nil {
			t.Fatal(err)
		}
		waitReplicaServes(t, p, "/probe")
		t.Logf("killed replica: %d reads ok, %d failed, %d on the primary; fallbacks: down %d, error %d, behind %d",
			ok.Load(), failed.Load(), onPrimary.Load(), p.App.Fallbacks("down"), p.App.Fallbacks("error"), p.App.Fallbacks("behind"))
	})

	t.Run("metrics", func(t *testing.T) {
		m := scrapeMetrics(t, p)
		for _, want := range []string{`pgrest_pool_requests_total{pool="primary"}`, `pgrest_pool_requests_total{pool="replica1"}`,
			`pgrest_replica_lag_seconds{pool="replica1"}`, `pgrest_replica_fallbacks_total{reason="error"}`, `pgrest_replica_usable{pool="replica1"} 1`} {
			if !strings.Contains(m, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
		if _, st := adminGet(t, adminURL(t, p), "/status"); !strings.Contains(st, `"name":"replica1"`) || !strings.Contains(st, `"usable":true`) {
			t.Errorf("/status lacks the replica: %s", st)
		}
		rep := p.App.Replicas()[0]
		t.Logf("reads per pool: primary %d, replica %d (errors %d)", p.App.PrimaryRequests(), rep.Requests, rep.Errors)
	})
}

// get is a GET that reports transport errors instead of failing the test
// (for load goroutines).
func get(p *Pgrest, path string) (*Resp, error) {
	res, err := p.Client.Get(p.URL + path)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return &Resp{Status: res.StatusCode, Header: res.Header, Body: b}, err
}

// SQLOn runs statements as the superuser on another cluster's db.
func SQLOn(t *testing.T, c *embedpg.Cluster, db, sql string) {
	t.Helper()
	if err := c.Exec(context.Background(), db, sql); err != nil {
		t.Fatalf("SQL %q: %v", sql, err)
	}
}

// scrapeMetrics reads /metrics from p's admin server.
func scrapeMetrics(t *testing.T, p *Pgrest) string {
	t.Helper()
	_, body := adminGet(t, adminURL(t, p), "/metrics")
	return body
}
