// Package listener keeps the schema cache current: it loads the first
// snapshot (retrying while the database is down), LISTENs on db-channel for
// PostgREST's reload payloads and pgrest's DDL event ids, coalesces bursts,
// reconnects with capped exponential backoff, and catches up after a
// disconnect by reloading from the event log.
package listener

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pgrest/pgrest/cache"
	"github.com/pgrest/pgrest/migrations"
	"github.com/rs/zerolog"
)

// Options configure a Manager: where to listen, which schemas to load.
type Options struct {
	ConnString     string
	Schemas        []string
	Channel        string
	ChannelEnabled bool
	PollInterval   time.Duration
	Log            zerolog.Logger
	OnConfigReload func()
	// BackoffBase is the first reconnect delay (doubling up to 32 s).
	BackoffBase time.Duration
	// TrackLSN records on each snapshot the WAL position it was loaded
	// at (read replicas compare it with their replay position).
	TrackLSN bool
	// QuerySleep and LoadSleep slow every load down, in the database
	// (within its statement_timeout) and after the queries: PostgREST's
	// internal-schema-cache-*-sleep settings, used to test slow loads.
	QuerySleep, LoadSleep time.Duration
}

// Stats describe the loads so far, for /status, /ready and /metrics.
type Stats struct {
	Version          int64
	LastLoadDuration time.Duration
	LastLoadAt       time.Time
	Loads, Failures  int64
	LastError        string // the cause of the last failure, "" once a load succeeds
	LastFailureAt    time.Time
	LastKind         string // "full" or "incremental": how the last snapshot was made
	// Latest is the newest event id known to be in the log (0 without one).
	Latest int64
	// Behind: no snapshot yet, the last load failed, the LISTEN
	// connection is lost, or the log has events the snapshot does not
	// reflect yet (see Manager.Behind).
	Behind bool
}

// Manager keeps the schema cache current: it listens for DDL events and
// reload notifications, catches up from the event log, and publishes each
// new snapshot to the Holder.
type Manager struct {
	opts   Options
	holder *cache.Holder
	pool   *pgxpool.Pool

	kick    chan bool    // a reload is wanted (true: full); capacity 1 coalesces bursts
	counter atomic.Int64 // local version when the event log is absent
	loadMu  sync.Mutex   // one load at a time

	statsMu sync.Mutex
	stats   Stats

	// What the current snapshot reflects of the event log (under loadMu).
	// Ids come from a sequence, so a long migration can commit an event
	// below ids that were applied already: holes are the ids below lastID,
	// within lateWindow of it, not seen yet. A reload reads the events
	// after lastID and those of holes that have committed since.
	logged bool // the log existed at the last load
	seen   bool // lastID and holes are known
	lastID int64
	holes  []int64
	// loadedFP is the catalog fingerprint read just before the current
	// snapshot was loaded; polling reloads when the catalog moves past it.
	loadedFP atomic.Value

	missMu   sync.Mutex
	lastMiss map[cache.QI]time.Time

	// exposed replaces opts.Schemas once a config reload changed db-schemas.
	exposed atomic.Pointer[[]string]

	// latest is the newest event id seen in a notification or the log;
	// failing is set while loads fail. Together they say whether the
	// snapshot is known to be behind (/ready).
	latest  atomic.Int64
	failing atomic.Bool
	// pending holds notified event ids the snapshot does not reflect yet:
	// a late-committing event's id is below the version, so latest
	// alone would not show it.
	pendingMu sync.Mutex
	pending   map[int64]bool
	// lost is set from a failed LISTEN connection until the next one is
	// up: notifications may be missed, so the cache may be behind unseen.
	lost atomic.Bool
	// connectedOnce: the LISTEN connection was up at least once.
	connectedOnce atomic.Bool
	listening     atomic.Bool
	firstTry      chan struct{}
	firstTryOnce  sync.Once

	// refreshHook, set by tests, runs before an incremental refresh; an
	// error it returns fails the refresh.
	refreshHook func() error
}

func (m *Manager) schemas() []string {
	if p := m.exposed.Load(); p != nil {
		return *p
	}
	return m.opts.Schemas
}

// SetSchemas changes the exposed schemas (a config reload changed
// db-schemas) and loads a full snapshot of them.
func (m *Manager) SetSchemas(schemas []string) {
	cp := append([]string(nil), schemas...)
	m.exposed.Store(&cp)
	m.KickFull()
}

// New makes a Manager that publishes to holder; Run starts it.
func New(opts Options, holder *cache.Holder, pool *pgxpool.Pool) *Manager {
	if opts.Channel == "" {
		opts.Channel = "pgrst"
	}
	if opts.BackoffBase == 0 {
		opts.BackoffBase = time.Second
	}
	return &Manager{opts: opts, holder: holder, pool: pool, kick: make(chan bool, 1), lastMiss: map[cache.QI]time.Time{},
		pending: map[int64]bool{}}
}

// Run blocks until ctx ends.
func (m *Manager) Run(ctx context.Context) {
	// The listener connects while the first load runs, as PostgREST's
	// does: a notification sent during that load is not lost.
	m.Listen(ctx)
	m.retry(ctx, func(int) error { return m.ReloadNow(ctx) })
	go m.reloader(ctx)
	if m.opts.PollInterval > 0 {
		go m.poll(ctx)
	}
	<-ctx.Done()
}

// Listen starts the LISTEN connection (once, when db-channel-enabled);
// it reconnects by itself and is independent of the pool's connection.
func (m *Manager) Listen(ctx context.Context) {
	if m.opts.ChannelEnabled && m.listening.CompareAndSwap(false, true) {
		m.firstTry = make(chan struct{})
		go m.listenLoop(ctx)
		// The first attempt's outcome is logged before the pool's, as
		// PostgREST starts its listener first.
		select {
		case <-m.firstTry:
		case <-time.After(2 * time.Second):
		case <-ctx.Done():
		}
	}
}

// tried marks the first connection attempt done.
func (m *Manager) tried() { m.firstTryOnce.Do(func() { close(m.firstTry) }) }

// listenLoop holds the LISTEN connection, reconnecting with backoff.
func (m *Manager) listenLoop(ctx context.Context) {
	delay := m.opts.BackoffBase
	for ctx.Err() == nil {
		start := time.Now()
		err := m.listen(ctx)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errPooled) {
			m.pollInstead(ctx)
			return
		}
		if time.Since(start) > time.Minute {
			delay = m.opts.BackoffBase
		}
		m.lost.Store(true)
		// PostgREST's two lines, shown at every log level.
		m.opts.Log.Log().Msg("Failed listening for database notifications on the " + strconv.Quote(m.opts.Channel) + " channel. " + listenError(err))
		m.opts.Log.Log().Dur("retry_in", delay).Msg("Retrying listening for database notifications in " + strconv.Itoa(int(delay/time.Second)) + " seconds...")
		m.tried()
		if !sleep(ctx, delay) {
			return
		}
		if delay *= 2; delay > 32*time.Second {
			delay = 32 * time.Second
		}
	}
}

// listen holds one LISTEN connection until it fails.
func (m *Manager) listen(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, m.opts.ConnString)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if err := checkSession(ctx, conn); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{m.opts.Channel}.Sanitize()); err != nil {
		return err
	}
	// Anything committed while we were not listening is caught up now,
	// from the event log when there is one. Its newest id (read on the
	// pool: LISTEN is this connection's first statement, so nothing
	// delays it) says how far behind the cache is until then.
	if id, ok, err := migrations.LatestEventID(ctx, m.pool); err == nil && ok {
		m.noteLatest(id)
	}
	// A reconnection catches up on what it missed; the first connection,
	// made while the first load runs, needs none (as in PostgREST).
	catchUp := m.connectedOnce.Load()
	m.connectedOnce.Store(true)
	m.lost.Store(false)
	m.opts.Log.Log().Msg("Listener connected to " + serverName(conn) + " on " + strconv.Quote(connAddr(conn)) +
		" and listening for database notifications on the " + strconv.Quote(m.opts.Channel) + " channel")
	m.tried()
	if catchUp {
		m.Kick()
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		switch p := strings.TrimSpace(n.Payload); p {
		case "reload config":
			m.opts.Log.Log().Msg("Received a config reload message on the " + strconv.Quote(m.opts.Channel) + " channel")
			if m.opts.OnConfigReload != nil {
				m.opts.OnConfigReload()
			}
		case "":
			m.opts.Log.Log().Msg("Received a schema cache reload message on the " + strconv.Quote(m.opts.Channel) + " channel")
			if m.opts.OnConfigReload != nil {
				m.opts.OnConfigReload()
			}
			m.KickFull()
		case "reload schema":
			m.opts.Log.Log().Msg("Received a schema cache reload message on the " + strconv.Quote(m.opts.Channel) + " channel")
			m.KickFull()
		default: // a DDL event id: the log says what changed
			// Any other payload is ignored, as PostgREST ignores it.
			if id, err := strconv.ParseInt(p, 10, 64); err == nil {
				m.noteLatest(id)
				m.pendingMu.Lock()
				m.pending[id] = true
				m.pendingMu.Unlock()
				m.Kick()
			}
		}
	}
}

// Kick asks for an incremental reload without waiting; bursts coalesce.
func (m *Manager) Kick() { m.kickWith(false) }

// KickFull asks for a full reload ('reload schema', polling, reconnects).
func (m *Manager) KickFull() { m.kickWith(true) }

func (m *Manager) kickWith(full bool) {
	select {
	case m.kick <- full:
		return
	default:
	}
	if full { // make sure the pending reload is a full one
		select {
		case <-m.kick:
		default:
		}
		select {
		case m.kick <- true:
		default:
		}
	}
}

// reloader applies kicks one at a time. A failed reload is retried with
// backoff as a full load: whatever made the incremental one fail, a full
// load does not depend on the snapshot it was derived from.
func (m *Manager) reloader(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case full := <-m.kick:
			m.retry(ctx, func(attempt int) error { return m.reload(ctx, full || attempt > 0) })
		}
	}
}

// noteLatest records that the log holds event id (a notification, a read
// of the log).
func (m *Manager) noteLatest(id int64) {
	for {
		cur := m.latest.Load()
		if id <= cur || m.latest.CompareAndSwap(cur, id) {
			return
		}
	}
}

// Behind reports whether the published snapshot is behind or may be:
// no snapshot yet, the last load failed, the event log has an event newer
// than the snapshot's version, or the LISTEN connection is lost.
func (m *Manager) Behind() bool {
	snap := m.holder.Load()
	if snap == nil || m.failing.Load() || m.lost.Load() || m.latest.Load() > snap.Version {
		return true
	}
	m.pendingMu.Lock()
	defer m.pendingMu.Unlock()
	return len(m.pending) > 0
}

// settlePending forgets the notified ids the published log state covers
// (called under loadMu): those up to lastID that are not holes, or all
// of them without a log.
func (m *Manager) settlePending() {
	m.pendingMu.Lock()
	defer m.pendingMu.Unlock()
	for id := range m.pending {
		if !m.logged || id <= m.lastID && !slices.Contains(m.holes, id) {
			delete(m.pending, id)
		}
	}
}

func (m *Manager) poll(ctx context.Context) {
	t := time.NewTicker(m.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fp, err := m.fingerprint(ctx)
		if err != nil {
			// Polling is how this database's changes are noticed: a
			// failing check must not leave the cache stale unseen.
			m.opts.Log.Error().Err(err).Msg("schema fingerprint check failed")
			continue
		}
		if last, _ := m.loadedFP.Load().(string); fp != last {
			m.KickFull()
		}
	}
}

func (m *Manager) fingerprint(ctx context.Context) (string, error) {
	var fp string
	err := m.pool.QueryRow(ctx, fingerprintSQL, m.schemas()).Scan(&fp)
	return fp, err
}

// fingerprintSQL changes whenever a relation, column, constraint or
// function of the exposed schemas changes (xmin moves on every catalog update).
const fingerprintSQL = `
SELECT md5(string_agg(x, ',' ORDER BY x)) FROM (
  SELECT c.oid::text || ':' || c.xmin::text AS x FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY($1)
  UNION ALL SELECT a.attrelid::text || '.' || a.attnum || ':' || a.xmin::text FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY($1) AND a.attnum > 0
  UNION ALL SELECT p.oid::text || ':' || p.xmin::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = ANY($1)
  UNION ALL SELECT o.oid::text || ':' || o.xmin::text FROM pg_constraint o JOIN pg_namespace n ON n.oid = o.connamespace WHERE n.nspname = ANY($1)
) s`

func (m *Manager) retry(ctx context.Context, f func(attempt int) error) {
	delay := m.opts.BackoffBase / 4
	for attempt := 0; ctx.Err() == nil; attempt++ {
		if err := f(attempt); err == nil {
			return
		}
		if !sleep(ctx, delay) {
			return
		}
		if delay *= 2; delay > 32*time.Second {
			delay = 32 * time.Second
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// ReloadNow loads a full snapshot and publishes it. A failure keeps the
// old snapshot. The version is the newest event id read before loading, so
// it never claims more than the snapshot reflects.
func (m *Manager) ReloadNow(ctx context.Context) error {
	return m.reload(ctx, true)
}

// reload publishes a new snapshot. With the event log installed and a
// snapshot already loaded, it reads the events since that snapshot and
// re-introspects only what they name; anything else is a full load. The
// events and the catalog are read in one REPEATABLE READ transaction, so
// the snapshot reflects exactly the events it is versioned by.
func (m *Manager) reload(ctx context.Context, full bool) error {
	m.loadMu.Lock()
	defer m.loadMu.Unlock()
	start := time.Now()
	old := m.holder.Load()
	var fp string
	if m.opts.PollInterval > 0 {
		fp, _ = m.fingerprint(ctx)
	}
	var r loaded
	tx, err := m.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err == nil {
		// Ended after the snapshot is published: it only read.
		defer tx.Rollback(context.WithoutCancel(ctx))
		if m.opts.QuerySleep > 0 {
			_, err = tx.Exec(ctx, "SELECT pg_catalog.pg_sleep($1)", m.opts.QuerySleep.Seconds())
		}
		if err == nil {
			r, err = m.load(ctx, tx, old, full)
		}
		if err == nil && r.snap != nil && m.opts.TrackLSN {
			r.snap.LSN = loadLSN(ctx, tx)
		}
	}
	if err == nil && r.snap != nil {
		m.opts.Log.Log().Msg("Schema cache queried in " + millis(time.Since(start)) + " milliseconds")
		if m.opts.LoadSleep > 0 && !sleep(ctx, m.opts.LoadSleep) {
			err = ctx.Err()
		}
	}
	if err == nil && r.snap == nil {
		m.failing.Store(false)
		m.settlePending()
		return nil // nothing new
	}
	m.statsMu.Lock()
	defer m.statsMu.Unlock()
	if err != nil {
		m.failing.Store(true)
		m.stats.Failures++
		m.stats.LastError = err.Error()
		m.stats.LastFailureAt = time.Now()
		m.opts.Log.Error().Err(err).Str("kind", r.kind).Int64("version", versionOf(old)).
			Msg("schema cache load failed; keeping the previous snapshot, retrying with a full load")
		return err
	}
	snap, version := r.snap, r.lastID
	if !r.logged {
		version = m.counter.Add(1)
	}
	m.logged, m.seen, m.lastID, m.holes = r.logged, r.logged, r.lastID, r.holes
	if old != nil && old.Version > version && r.logged {
		version = old.Version // a late event never moves the version back
	}
	snap.Version = version
	if fp != "" {
		m.loadedFP.Store(fp)
	}
	if !r.logged {
		m.latest.Store(0) // no log (any more): nothing to be behind
	}
	m.holder.Store(snap)
	if old != nil {
		// As PostgREST does on a reload: pooled connections may hold
		// prepared statements planned for the old catalog (a column's
		// type changed), so they are replaced.
		m.pool.Reset()
	}
	m.settlePending()
	m.failing.Store(false)
	d := time.Since(start)
	m.stats.Version, m.stats.LastLoadDuration, m.stats.LastLoadAt = version, d, time.Now()
	m.stats.Loads++
	m.stats.LastError, m.stats.LastKind = "", r.kind
	// PostgREST reports every load whatever the log level.
	m.opts.Log.Log().Int64("version", version).Str("kind", r.kind).Dur("duration", d).Int("relations", len(snap.Relations)).
		Msg("Schema cache loaded in " + millis(d) + " milliseconds")
	return nil
}

// loaded is what load read: the snapshot (nil when there was nothing new)
// and, with the event log, the log state it reflects.
type loaded struct {
	snap   *cache.Snapshot
	kind   string
	logged bool
	lastID int64
	holes  []int64
}

// load reads the event log and the snapshot in tx. It leaves the Manager's
// log state alone: reload adopts it once the snapshot is published.
func (m *Manager) load(ctx context.Context, tx pgx.Tx, old *cache.Snapshot, full bool) (loaded, error) {
	r := loaded{kind: "full", logged: m.logged}
	if !r.logged {
		if err := tx.QueryRow(ctx, migrations.LogInstalledSQL).Scan(&r.logged); err != nil {
			return r, err
		}
	}
	var err error
	if r.logged {
		var events []cache.Event
		events, err = m.readLog(ctx, tx, &r)
		if err != nil {
			return r, err
		}
		if old != nil && !full && m.seen && r.kind != "reset" {
			if len(events) == 0 {
				return r, nil
			}
			// Assigned, not declared: a shadowed err here once dropped
			// every refresh failure, leaving the cache silently stale.
			var ok bool
			events, ok, err = indexTables(ctx, tx, events)
			if err != nil {
				return r, err
			}
			if rels, fns, known := cache.Changes(events); ok && known {
				r.kind = "incremental"
				r.snap, err = m.refresh(ctx, tx, old, rels, fns)
				if errors.Is(err, cache.ErrFullLoad) {
					r.kind, err = "full", nil
				}
			}
		}
	}
	if r.kind != "incremental" {
		r.kind = "full"
		r.snap, err = cache.Load(ctx, tx, m.schemas())
	}
	return r, err
}

// refresh is cache.Refresh behind the tests' hook.
func (m *Manager) refresh(ctx context.Context, tx pgx.Tx, old *cache.Snapshot, rels []cache.QI, fns bool) (*cache.Snapshot, error) {
	if m.refreshHook != nil {
		if err := m.refreshHook(); err != nil {
			return nil, err
		}
	}
	return cache.Refresh(ctx, tx, old, rels, fns)
}

// indexTablesSQL names the table of each index identity, NULL when the
// index is gone. The identity is split by parse_ident and found by catalog
// joins: to_regclass would need USAGE on the index's schema.
const indexTablesSQL = `
SELECT (SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname)
        FROM pg_catalog.pg_namespace xn
        JOIN pg_catalog.pg_class x ON x.relnamespace = xn.oid
        JOIN pg_catalog.pg_index i ON i.indexrelid = x.oid
        JOIN pg_catalog.pg_class c ON c.oid = i.indrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE p.ident[2] IS NOT NULL AND p.ident[3] IS NULL AND xn.nspname = p.ident[1] AND x.relname = p.ident[2])
FROM unnest($1::text[]) WITH ORDINALITY AS u(x, o)
CROSS JOIN LATERAL (SELECT pg_catalog.parse_ident(u.x) AS ident) p
ORDER BY o`

// indexTables turns index events into events of their tables: a unique
// index can make a foreign key one-to-one. ok is false when an index is
// gone (its table can't be named): that needs a full load.
func indexTables(ctx context.Context, tx pgx.Tx, events []cache.Event) ([]cache.Event, bool, error) {
	var idx []string
	for _, e := range events {
		if e.ObjectType == "index" {
			idx = append(idx, e.ObjectIdentity)
		}
	}
	if len(idx) == 0 {
		return events, true, nil
	}
	rows, err := tx.Query(ctx, indexTablesSQL, idx)
	if err != nil {
		return nil, false, err
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[*string])
	if err != nil {
		return nil, false, err
	}
	out := make([]cache.Event, 0, len(events))
	i := 0
	for _, e := range events {
		if e.ObjectType == "index" {
			t := tables[i]
			i++
			if t == nil {
				return nil, false, nil
			}
			e.ObjectType, e.ObjectIdentity = "table", *t
		}
		out = append(out, e)
	}
	return out, true, nil
}

// lateWindow is how far below the newest event id a late-committing event
// is still looked for.
const lateWindow = 1000

const eventColumns = `SELECT id, command_tag, coalesce(object_type, ''), coalesce(object_identity, ''), coalesce(schema_name, '') FROM pgrest.ddl_events`

// readLog reads, in one round trip, the events the current snapshot does
// not reflect (the window below the newest id when nothing is known yet)
// and sets r's log state to what they add to it. A log whose ids went back
// (recreated) is read afresh and marks r.kind "reset".
func (m *Manager) readLog(ctx context.Context, tx pgx.Tx, r *loaded) ([]cache.Event, error) {
	var maxID int64
	var events []cache.Event
	scan := func(rows pgx.Rows) error {
		var err error
		events, err = pgx.AppendRows(events, rows, func(row pgx.CollectableRow) (cache.Event, error) {
			var e cache.Event
			return e, row.Scan(&e.ID, &e.CommandTag, &e.ObjectType, &e.ObjectIdentity, &e.Schema)
		})
		return err
	}
	b := &pgx.Batch{}
	b.Queue("SELECT coalesce(max(id), 0) FROM pgrest.ddl_events").QueryRow(func(row pgx.Row) error { return row.Scan(&maxID) })
	window := !m.seen
	if window {
		b.Queue(eventColumns+" WHERE id > (SELECT coalesce(max(id), 0) FROM pgrest.ddl_events) - $1 ORDER BY id", lateWindow).Query(scan)
	} else {
		b.Queue(eventColumns+" WHERE id > $1 OR id = ANY($2) ORDER BY id", m.lastID, m.holes).Query(scan)
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "42P01" {
			m.logged = false // dropped: the retry loads without it
		}
		return nil, err
	}
	if !window && maxID < m.lastID {
		r.kind, window = "reset", true
		m.latest.Store(maxID)
		m.pendingMu.Lock()
		clear(m.pending) // ids of the old log
		m.pendingMu.Unlock()
		rows, err := tx.Query(ctx, eventColumns+" WHERE id > $1::bigint - $2 ORDER BY id", maxID, lateWindow)
		if err != nil {
			return nil, err
		}
		events = nil
		if err := scan(rows); err != nil {
			return nil, err
		}
	}
	m.noteLatest(maxID)
	r.lastID, r.holes = nextLogState(window, m.lastID, m.holes, maxID, events)
	return events, nil
}

// nextLogState is the newest id and the holes below it once events have
// been read: those after lastID and those of holes that committed, or
// (window) all of the window below maxID, when nothing was known.
func nextLogState(window bool, lastID int64, holes []int64, maxID int64, events []cache.Event) (int64, []int64) {
	if window {
		lastID, holes = 0, nil
	}
	got := make(map[int64]bool, len(events))
	newest := max(lastID, maxID)
	for _, e := range events {
		got[e.ID] = true
		newest = max(newest, e.ID)
	}
	var next []int64
	for _, h := range holes {
		if !got[h] && h > newest-lateWindow {
			next = append(next, h)
		}
	}
	for id := max(lastID, newest-lateWindow) + 1; id <= newest; id++ {
		if !got[id] {
			next = append(next, id)
		}
	}
	return newest, next
}

// CheckMissing is called when a request names an object the snapshot
// lacks. At most once a second per name, it asks the catalog; if the object
// exists it reloads synchronously and reports true.
func (m *Manager) CheckMissing(ctx context.Context, qi cache.QI) bool {
	m.missMu.Lock()
	if t, ok := m.lastMiss[qi]; ok && time.Since(t) < time.Second {
		m.missMu.Unlock()
		return false
	}
	if len(m.lastMiss) > 10000 {
		m.lastMiss = map[cache.QI]time.Time{}
	}
	m.lastMiss[qi] = time.Now()
	m.missMu.Unlock()
	var exists bool
	err := m.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2)
		OR EXISTS (SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1 AND p.proname = $2)`, qi.Schema, qi.Name).Scan(&exists)
	if err != nil || !exists {
		return false
	}
	return m.ReloadNow(ctx) == nil
}

// Stats is a copy of the current load statistics.
func (m *Manager) Stats() Stats {
	m.statsMu.Lock()
	st := m.stats
	m.statsMu.Unlock()
	st.Latest, st.Behind = m.latest.Load(), m.Behind()
	return st
}

func versionOf(s *cache.Snapshot) int64 {
	if s == nil {
		return 0
	}
	return s.Version
}
