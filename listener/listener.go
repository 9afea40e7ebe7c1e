// Package listener keeps the schema cache current: it loads the first
// snapshot (retrying while the database is down), LISTENs on db-channel for
// PostgREST's reload payloads and pgrest's DDL event ids, coalesces bursts,
// reconnects with capped exponential backoff, and catches up after a
// disconnect by reloading from the event log.
package listener

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pgrest/pgrest/cache"
	"github.com/pgrest/pgrest/migrations"
	"github.com/rs/zerolog"
)

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
}

type Stats struct {
	Version          int64
	LastLoadDuration time.Duration
	LastLoadAt       time.Time
	Loads, Failures  int64
	LastError        string
}

type Manager struct {
	opts   Options
	holder *cache.Holder
	pool   *pgxpool.Pool

	kick    chan bool    // a reload is wanted (true: full); capacity 1 coalesces bursts
	counter atomic.Int64 // local version when the event log is absent
	loadMu  sync.Mutex   // one load at a time

	statsMu sync.Mutex
	stats   Stats

	// applied holds the event ids reflected in the current snapshot within
	// lateWindow of its version: ids come from a sequence, so a long
	// migration can commit an event below ids that were applied already.
	applied map[int64]bool
	// loadedFP is the catalog fingerprint read just before the current
	// snapshot was loaded; polling reloads when the catalog moves past it.
	loadedFP atomic.Value

	missMu   sync.Mutex
	lastMiss map[cache.QI]time.Time

	// exposed replaces opts.Schemas once a config reload changed db-schemas.
	exposed atomic.Pointer[[]string]
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

func New(opts Options, holder *cache.Holder, pool *pgxpool.Pool) *Manager {
	if opts.Channel == "" {
		opts.Channel = "pgrst"
	}
	if opts.BackoffBase == 0 {
		opts.BackoffBase = time.Second
	}
	return &Manager{opts: opts, holder: holder, pool: pool, kick: make(chan bool, 1), applied: map[int64]bool{}, lastMiss: map[cache.QI]time.Time{}}
}

// Run blocks until ctx ends.
func (m *Manager) Run(ctx context.Context) {
	m.retry(ctx, func() error { return m.ReloadNow(ctx) })
	go m.reloader(ctx)
	if m.opts.PollInterval > 0 {
		go m.poll(ctx)
	}
	if !m.opts.ChannelEnabled {
		<-ctx.Done()
		return
	}
	delay := m.opts.BackoffBase
	for ctx.Err() == nil {
		start := time.Now()
		err := m.listen(ctx)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > time.Minute {
			delay = m.opts.BackoffBase
		}
		m.opts.Log.Error().Err(err).Dur("retry_in", delay).Msg("schema listener lost its connection")
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
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{m.opts.Channel}.Sanitize()); err != nil {
		return err
	}
	// Anything committed while we were not listening is caught up now,
	// from the event log when there is one.
	m.Kick()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		switch p := strings.TrimSpace(n.Payload); p {
		case "reload config":
			if m.opts.OnConfigReload != nil {
				m.opts.OnConfigReload()
			}
		case "":
			if m.opts.OnConfigReload != nil {
				m.opts.OnConfigReload()
			}
			m.KickFull()
		case "reload schema":
			m.KickFull()
		default: // a DDL event id: the log says what changed
			m.Kick()
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

func (m *Manager) reloader(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case full := <-m.kick:
			m.retry(ctx, func() error { return m.reload(ctx, full) })
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

func (m *Manager) retry(ctx context.Context, f func() error) {
	delay := m.opts.BackoffBase / 4
	for ctx.Err() == nil {
		if err := f(); err == nil {
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
// re-introspects only what they name; anything else is a full load.
func (m *Manager) reload(ctx context.Context, full bool) error {
	m.loadMu.Lock()
	defer m.loadMu.Unlock()
	start := time.Now()
	old := m.holder.Load()
	var fp string
	if m.opts.PollInterval > 0 {
		fp, _ = m.fingerprint(ctx)
	}
	version, logged, err := migrations.LatestEventID(ctx, m.pool)
	var snap *cache.Snapshot
	kind := "full"
	var events []cache.Event
	if err == nil && logged {
		after := version - lateWindow
		if old != nil && old.Version-lateWindow < after {
			after = old.Version - lateWindow
		}
		events, err = readEvents(ctx, m.pool, after, version)
		fresh := events[:0:0]
		for _, e := range events {
			if !m.applied[e.ID] {
				fresh = append(fresh, e)
			}
		}
		if err == nil && old != nil && !full && version >= old.Version {
			if len(fresh) == 0 {
				return nil // nothing new
			}
			if rels, fns, ok := cache.Changes(fresh); ok {
				kind = "incremental"
				snap, err = cache.Refresh(ctx, m.pool, old, rels, fns)
			}
		}
	}
	if err == nil && snap == nil {
		snap, err = cache.Load(ctx, m.pool, m.schemas())
	}
	m.statsMu.Lock()
	defer m.statsMu.Unlock()
	if err != nil {
		m.stats.Failures++
		m.stats.LastError = err.Error()
		m.opts.Log.Error().Err(err).Msg("schema cache load failed; keeping the previous snapshot")
		return err
	}
	if !logged {
		version = m.counter.Add(1)
	}
	if old != nil && old.Version > version && logged {
		version = old.Version // a late event never moves the version back
	}
	snap.Version = version
	if fp != "" {
		m.loadedFP.Store(fp)
	}
	for _, e := range events {
		m.applied[e.ID] = true
	}
	for id := range m.applied {
		if id <= version-lateWindow {
			delete(m.applied, id)
		}
	}
	m.holder.Store(snap)
	d := time.Since(start)
	m.stats.Version, m.stats.LastLoadDuration, m.stats.LastLoadAt = version, d, time.Now()
	m.stats.Loads++
	m.stats.LastError = ""
	m.opts.Log.Info().Int64("version", version).Str("kind", kind).Dur("duration", d).Int("relations", len(snap.Relations)).Msg("schema cache loaded")
	return nil
}

// lateWindow is how far below the current version a late-committing event
// is still looked for.
const lateWindow = 1000

func readEvents(ctx context.Context, pool *pgxpool.Pool, after, upTo int64) ([]cache.Event, error) {
	rows, err := pool.Query(ctx, `SELECT id, command_tag, coalesce(object_type, ''), coalesce(object_identity, ''), coalesce(schema_name, '')
		FROM pgrest.ddl_events WHERE id > $1 AND id <= $2 ORDER BY id`, after, upTo)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (cache.Event, error) {
		var e cache.Event
		err := r.Scan(&e.ID, &e.CommandTag, &e.ObjectType, &e.ObjectIdentity, &e.Schema)
		return e, err
	})
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

func (m *Manager) Stats() Stats {
	m.statsMu.Lock()
	defer m.statsMu.Unlock()
	return m.stats
}
