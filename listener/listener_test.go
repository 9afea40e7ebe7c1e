package listener

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pgrest/pgrest/cache"
	"github.com/pgrest/pgrest/embedpg"
	"github.com/pgrest/pgrest/migrations"
	"github.com/rs/zerolog"
)

var pg *embedpg.Cluster

// One cluster for the package, with PostgREST's recommended roles: the
// authenticator the Manager connects as inherits nothing and has no USAGE
// on the exposed schema.
func TestMain(m *testing.M) {
	ctx := context.Background()
	var err error
	if pg, err = embedpg.Start(ctx, nil); err != nil {
		fmt.Fprintf(os.Stderr, "listener: starting PostgreSQL: %v\n", err)
		os.Exit(1)
	}
	err = pg.Exec(ctx, "postgres", `CREATE ROLE authenticator LOGIN NOINHERIT; CREATE ROLE web_anon NOLOGIN;
		GRANT web_anon TO authenticator;`)
	if err != nil {
		pg.Remove()
		fmt.Fprintf(os.Stderr, "listener: creating roles: %v\n", err)
		os.Exit(1)
	}
	code := m.Run()
	pg.Remove()
	os.Exit(code)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// env is one test's database, its superuser connection and a Manager.
type env struct {
	t     *testing.T
	db    string
	super *pgx.Conn
	m     *Manager
	log   *syncBuffer
}

var dbSeq atomic.Int64

// newEnv creates a database with the event log and an api schema, and a
// Manager for it; mod may adjust the Manager before it runs.
func newEnv(t *testing.T, backoff time.Duration, mod func(*Manager)) *env {
	t.Helper()
	ctx := context.Background()
	db := fmt.Sprintf("l%d", dbSeq.Add(1))
	if err := pg.CreateDatabase(ctx, db); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Exec(context.Background(), "postgres", "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)") })
	super, err := pgx.Connect(ctx, pg.URI("postgres", db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { super.Close(context.Background()) })
	if _, err = migrations.Apply(ctx, super, "pgrst"); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, db: db, super: super, log: &syncBuffer{}}
	e.exec(`CREATE SCHEMA api; GRANT USAGE ON SCHEMA api TO web_anon; CREATE TABLE api.base (id int PRIMARY KEY)`)
	pool, err := pgxpool.New(ctx, pg.URI("authenticator", db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	e.m = New(Options{
		ConnString: pg.URI("authenticator", db), Schemas: []string{"api"}, ChannelEnabled: true,
		Log: zerolog.New(e.log), BackoffBase: backoff,
	}, cache.NewHolder(), pool)
	if mod != nil {
		mod(e.m)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { e.m.Run(runCtx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	e.waitVersion(e.latest())
	e.listenPID() // listening before the test's DDL
	return e
}

func (e *env) exec(sql string) {
	e.t.Helper()
	if _, err := e.super.Exec(context.Background(), sql); err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
}

func (e *env) latest() int64 {
	e.t.Helper()
	id, _, err := migrations.LatestEventID(context.Background(), e.super)
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

func (e *env) waitVersion(v int64) *cache.Snapshot {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, ok := e.m.holder.WaitVersion(ctx, v)
	if !ok {
		e.t.Fatalf("the snapshot did not reach version %d (at %d); log:\n%s", v, versionOf(s), e.log.String())
	}
	return s
}

// waitFor polls cond until it holds.
func (e *env) waitFor(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: not within 20s; stats %+v; log:\n%s", what, e.m.Stats(), e.log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// listenPID waits for the Manager's LISTEN connection and returns its pid.
func (e *env) listenPID() int32 {
	e.t.Helper()
	var pid int32
	e.waitFor("a LISTEN connection", func() bool {
		err := e.super.QueryRow(context.Background(), `SELECT pid FROM pg_stat_activity
			WHERE datname = current_database() AND usename = 'authenticator' AND query LIKE 'LISTEN %'`).Scan(&pid)
		return err == nil
	})
	return pid
}

func (e *env) column(table, col string) bool {
	r := e.m.holder.Load().Relation("api", table)
	return r != nil && (col == "" || r.Column(col) != nil)
}

// checkFullLoad compares the snapshot with a full load as the authenticator.
func (e *env) checkFullLoad() {
	e.t.Helper()
	snap := e.m.holder.Load()
	conn, err := pgx.Connect(context.Background(), pg.URI("authenticator", e.db))
	if err != nil {
		e.t.Fatal(err)
	}
	defer conn.Close(context.Background())
	full, err := cache.Load(context.Background(), conn, snap.Schemas)
	if err != nil {
		e.t.Fatal(err)
	}
	full.Version = snap.Version
	a, _ := snap.Dump()
	b, _ := full.Dump()
	if string(a) != string(b) {
		e.t.Fatalf("the snapshot differs from a full load:\n%s\n---\n%s", a, b)
	}
}

// The LISTEN connection is terminated; DDL committed meanwhile is applied
// once it reconnects (with backoff), and notifications work again after.
func TestReconnectAfterTerminate(t *testing.T) {
	e := newEnv(t, 400*time.Millisecond, nil)
	pid := e.listenPID()
	e.exec(fmt.Sprintf("SELECT pg_terminate_backend(%d)", pid))
	e.waitFor("behind while disconnected", e.m.Behind)
	e.exec(`ALTER TABLE api.base ADD COLUMN while_down int`)
	e.waitVersion(e.latest())
	if !e.column("base", "while_down") {
		t.Fatal("the DDL committed while disconnected was lost")
	}
	if !strings.Contains(e.log.String(), "Failed listening for database notifications on the") || !strings.Contains(e.log.String(), "Retrying listening for database notifications in") {
		t.Fatalf("the lost connection was not logged with its retry delay:\n%s", e.log.String())
	}
	if again := e.listenPID(); again == pid {
		t.Fatal("no new LISTEN connection")
	}
	e.exec(`ALTER TABLE api.base ADD COLUMN after_up int`)
	e.waitVersion(e.latest())
	if !e.column("base", "after_up") {
		t.Fatal("a notification after the reconnect was not applied")
	}
	e.waitFor("caught up", func() bool { return !e.m.Behind() })
	// A second loss soon after waits twice as long before reconnecting.
	e.exec(fmt.Sprintf("SELECT pg_terminate_backend(%d)", e.listenPID()))
	e.waitFor("the second loss logged", func() bool { return strings.Count(e.log.String(), "Failed listening for database notifications") == 2 })
	if !strings.Contains(e.log.String(), `"retry_in":400`) || !strings.Contains(e.log.String(), `"retry_in":800`) {
		t.Fatalf("the reconnect delay did not back off:\n%s", e.log.String())
	}
	e.listenPID()
	e.checkFullLoad()
}

// Events whose notifications never arrived (sent to another channel) are
// applied with the next one: the log, not the notification, says what
// changed.
func TestCatchUpAfterMissedEvents(t *testing.T) {
	e := newEnv(t, 100*time.Millisecond, nil)
	time.Sleep(300 * time.Millisecond) // the catch-up after LISTEN is done
	v0 := e.m.holder.Load().Version
	e.exec(`UPDATE pgrest.settings SET value = 'elsewhere' WHERE name = 'channel'`)
	e.exec(`CREATE TABLE api.missed (id int)`)
	e.exec(`ALTER TABLE api.base ADD COLUMN missed_col int`)
	time.Sleep(300 * time.Millisecond)
	if v := e.m.holder.Load().Version; v != v0 {
		t.Fatalf("version moved to %d without a notification", v)
	}
	e.exec(`UPDATE pgrest.settings SET value = 'pgrst' WHERE name = 'channel'`)
	e.exec(`ALTER TABLE api.base ADD COLUMN noticed int`)
	e.waitVersion(e.latest())
	for _, c := range [][2]string{{"missed", ""}, {"base", "missed_col"}, {"base", "noticed"}} {
		if !e.column(c[0], c[1]) {
			t.Fatalf("%s.%s is not in the snapshot", c[0], c[1])
		}
	}
	e.checkFullLoad()
}

// A burst of DDL while a reload runs becomes one more reload, not one per
// event.
func TestBurstCoalesces(t *testing.T) {
	e := newEnv(t, 100*time.Millisecond, nil)
	loads := e.m.Stats().Loads
	e.m.loadMu.Lock() // the reload the burst starts waits here
	const n = 25
	for i := 0; i < n; i++ {
		e.exec(fmt.Sprintf(`CREATE TABLE api.burst%d (id int)`, i))
	}
	latest := e.latest()
	e.waitFor("every notification", func() bool { return e.m.latest.Load() >= latest })
	e.m.loadMu.Unlock()
	e.waitVersion(latest)
	time.Sleep(200 * time.Millisecond) // a pending kick, if any, has run
	if got := e.m.Stats().Loads - loads; got > 2 {
		t.Fatalf("%d events took %d loads", n, got)
	}
	for i := 0; i < n; i++ {
		if !e.column(fmt.Sprintf("burst%d", i), "") {
			t.Fatalf("burst%d is not in the snapshot", i)
		}
	}
	e.checkFullLoad()
}

// An event whose id was taken before a higher one but commits after it
// (a long migration) is still applied, and the version does not go back.
func TestLateCommittingEvent(t *testing.T) {
	e := newEnv(t, 100*time.Millisecond, nil)
	ctx := context.Background()
	slow, err := pgx.Connect(ctx, pg.URI("postgres", e.db))
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close(ctx)
	tx, err := slow.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `CREATE TABLE api.late (id int)`); err != nil {
		t.Fatal(err)
	}
	var lateID int64
	if err := tx.QueryRow(ctx, `SELECT max(id) FROM pgrest.ddl_events`).Scan(&lateID); err != nil {
		t.Fatal(err)
	}
	e.exec(`CREATE TABLE api.early (id int)`)
	early := e.latest()
	if early <= lateID {
		t.Fatalf("the early event %d is not above the late one %d", early, lateID)
	}
	e.waitVersion(early)
	if e.column("late", "") {
		t.Fatal("an uncommitted table is in the snapshot")
	}
	if e.m.Behind() {
		t.Fatal("behind before the late event commits")
	}
	e.m.loadMu.Lock() // hold its reload: the cache is behind meanwhile
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	e.waitFor("the late notification", func() bool {
		e.m.pendingMu.Lock()
		defer e.m.pendingMu.Unlock()
		return e.m.pending[lateID]
	})
	behind := e.m.Behind()
	e.m.loadMu.Unlock()
	if !behind {
		t.Fatal("not behind while a notified late event is not applied")
	}
	e.waitFor("the late table", func() bool { return e.column("late", "") })
	if v := e.m.holder.Load().Version; v != early {
		t.Fatalf("version %d after the late event, want %d", v, early)
	}
	if e.m.Behind() {
		t.Fatal("behind after applying every event")
	}
	e.checkFullLoad()
}

// A failing incremental refresh is logged with its cause at error level,
// counted, marks the cache behind, and is retried after a backoff as a
// full load.
func TestRefreshFailureFallsBackToFullLoad(t *testing.T) {
	var calls atomic.Int64
	e := newEnv(t, 800*time.Millisecond, func(m *Manager) {
		m.refreshHook = func() error {
			if calls.Add(1) == 1 {
				return errors.New("injected refresh failure")
			}
			return nil
		}
	})
	e.exec(`ALTER TABLE api.base ADD COLUMN added int`)
	latest := e.latest()
	e.waitFor("the failure", func() bool { return e.m.Stats().Failures == 1 })
	st := e.m.Stats()
	if !e.m.Behind() || !st.Behind || !strings.Contains(st.LastError, "injected refresh failure") {
		t.Fatalf("after the failure: %+v", st)
	}
	if !strings.Contains(e.log.String(), `"level":"error"`) || !strings.Contains(e.log.String(), "injected refresh failure") {
		t.Fatalf("the failure was not logged at error level with its cause:\n%s", e.log.String())
	}
	s := e.waitVersion(latest)
	if s.Relation("api", "base").Column("added") == nil {
		t.Fatal("the retry did not apply the column")
	}
	st = e.m.Stats()
	if st.LastKind != "full" || st.Behind || st.LastError != "" || st.Failures != 1 {
		t.Fatalf("after the retry: %+v", st)
	}
	if d := st.LastLoadAt.Sub(st.LastFailureAt); d < 150*time.Millisecond {
		t.Fatalf("retried %v after the failure, with no backoff", d)
	}
	if calls.Load() != 1 {
		t.Fatalf("the retry refreshed incrementally (%d calls) instead of loading fully", calls.Load())
	}
	// Later events are incremental again.
	e.exec(`ALTER TABLE api.base ADD COLUMN later int`)
	e.waitVersion(e.latest())
	if st := e.m.Stats(); st.LastKind != "incremental" {
		t.Fatalf("the next event was applied by a %s load", st.LastKind)
	}
	e.checkFullLoad()
}

// The listener's own catalog reads look nothing up by name either: the
// authenticator may lack USAGE on the schemas involved.
func TestListenerUsesNoNameLookups(t *testing.T) {
	lookup := regexp.MustCompile(`to_reg\w+\s*\(|::reg\w+|has_\w+_privilege\s*\(`)
	for name, sql := range map[string]string{"indexTables": indexTablesSQL, "logInstalled": migrations.LogInstalledSQL,
		"fingerprint": fingerprintSQL, "events": eventColumns} {
		if m := lookup.FindAllString(sql, -1); len(m) > 0 {
			t.Errorf("%s looks names up: %q", name, m)
		}
	}
}
