// Package realtime pushes committed changes to subscribed queries: a
// logical replication stream (pgoutput, one slot per instance) says which
// rows changed, and each subscription re-reads those rows through its own
// compiled query, as its own role, so authorization is the request's.
// Rows are never rendered from WAL data.
package realtime

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pgrest/pgrest/apierr"
	"github.com/pgrest/pgrest/cache"
	"github.com/pgrest/pgrest/executor"
	"github.com/pgrest/pgrest/planner"
	"github.com/rs/zerolog"
)

// Config is the realtime part of pgrest's configuration.
type Config struct {
	Enabled    bool
	ConnString string
	// Slot names the instance's replication slot; Publication the
	// publication `pgrest migrate` creates (the same prefix names both).
	Slot, Publication string
	MaxSubscriptions  int
	// Buffer is how many events a subscriber may have unsent before it is
	// dropped as too slow.
	Buffer int
	// Retention is how long changes stay available to Last-Event-ID. The
	// slot is confirmed only behind it, so a restarted pgrest re-reads the
	// window from the slot.
	Retention time.Duration
	Log       zerolog.Logger
}

// Stats are the figures /metrics shows.
type Stats struct {
	Subscriptions int
	EventsSent    int64
	Dropped       int64
	LagBytes      int64
	LagSeconds    float64
}

// Hub owns the replication stream and the subscriptions.
type Hub struct {
	cfg     Config
	holder  *cache.Holder
	planner *planner.Memo
	exec    *executor.Executor

	startMu sync.Mutex
	running bool
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	jobs    chan job
	idle    *time.Timer

	mu       sync.Mutex
	subs     map[*Subscription]struct{}
	ring     []*txn
	marks    []mark
	retained pglogrepl.LSN // changes after it can be replayed
	// confirmed is the position last reported to the server
	confirmed pglogrepl.LSN
	// startEnd is the server's WAL end when streaming began: transactions
	// before it are history (kept for resume), not news.
	startEnd   pglogrepl.LSN
	caughtUp   chan struct{}
	caught     bool
	lastCommit pglogrepl.LSN
	processed  pglogrepl.LSN // every change up to here was dispatched
	serverWAL  pglogrepl.LSN
	lagSeconds float64
	pending    int // transactions handed to the dispatcher, not yet sent

	sent, dropped atomic.Int64
	// stale: column lists the schema cache did not catch up with in time
	stale map[string]bool
}

// mark remembers where the stream was at a moment, so the slot can be
// confirmed up to the position that left the retention window.
type mark struct {
	pos pglogrepl.LSN
	at  time.Time
}

// New makes a hub; nothing connects until the first subscription.
func New(cfg Config, holder *cache.Holder, pl *planner.Memo, exec *executor.Executor) *Hub {
	if cfg.Buffer < 1 {
		cfg.Buffer = 1
	}
	h := &Hub{cfg: cfg, holder: holder, planner: pl, exec: exec,
		subs: map[*Subscription]struct{}{}, stale: map[string]bool{}, caughtUp: make(chan struct{}), jobs: make(chan job, 256)}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	if cfg.Enabled && cfg.Retention > 0 {
		// A slot left by an earlier run holds WAL until someone reads it:
		// with no subscriber for a retention period, move it to the present.
		h.idle = time.AfterFunc(cfg.Retention, h.advanceIdleSlot)
	}
	return h
}

// Close stops streaming and ends every subscription.
func (h *Hub) Close() {
	if h.idle != nil {
		h.idle.Stop()
	}
	h.cancel()
	h.wg.Wait()
	h.mu.Lock()
	subs := make([]*Subscription, 0, len(h.subs))
	for s := range h.subs {
		subs = append(subs, s)
	}
	h.mu.Unlock()
	for _, s := range subs {
		s.drop("server shutting down")
	}
}

// Stats reads the figures for /metrics.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := Stats{Subscriptions: len(h.subs), EventsSent: h.sent.Load(), Dropped: h.dropped.Load(), LagSeconds: h.lagSeconds}
	if h.serverWAL > h.processed {
		st.LagBytes = int64(h.serverWAL - h.processed)
	}
	return st
}

// ensureStarted connects and starts streaming, once; a failure is
// returned to the subscriber that asked, and the next one tries again.
func (h *Hub) ensureStarted(ctx context.Context) error {
	h.startMu.Lock()
	defer h.startMu.Unlock()
	if h.running {
		return nil
	}
	if h.ctx.Err() != nil {
		return errors.New("shutting down")
	}
	conn, err := h.replConn(ctx)
	if err != nil {
		return err
	}
	pos, err := h.slotPosition(ctx, conn)
	if err == nil {
		var sys pglogrepl.IdentifySystemResult
		if sys, err = pglogrepl.IdentifySystem(ctx, conn); err == nil {
			end := sys.XLogPos
			// IDENTIFY_SYSTEM tells the flushed position; under
			// synchronous_commit = off, commits already acknowledged may lie
			// past it, and they are history too, not live changes.
			if ins, ok := walInsertLSN(ctx, conn); ok && ins > end {
				end = ins
			}
			h.mu.Lock()
			h.retained, h.processed, h.confirmed, h.startEnd = pos, pos, pos, end
			h.mu.Unlock()
			h.serverEnd(pos, pos, true)
		}
	}
	if err != nil {
		_ = conn.Close(context.Background())
		return err
	}
	h.running = true
	if h.idle != nil {
		h.idle.Stop()
	}
	h.wg.Add(2)
	go h.replicate(conn)
	go h.dispatchLoop()
	return nil
}

// replicate streams until shutdown, reconnecting with backoff; a
// reconnect resumes at the slot and skips what was already seen.
func (h *Hub) replicate(conn *pgconn.PgConn) {
	defer h.wg.Done()
	delay := 500 * time.Millisecond
	for {
		err := h.stream(h.ctx, conn)
		_ = conn.Close(context.Background())
		if h.ctx.Err() != nil {
			return
		}
		h.cfg.Log.Error().Err(err).Msg("realtime: replication stream ended; reconnecting")
		for {
			select {
			case <-h.ctx.Done():
				return
			case <-time.After(delay):
			}
			delay = min(2*delay, 10*time.Second)
			if conn, err = h.replConn(h.ctx); err == nil {
				break
			}
			h.cfg.Log.Error().Err(err).Msg("realtime: reconnecting the replication stream")
		}
		delay = 500 * time.Millisecond
	}
}

func (h *Hub) dispatchLoop() {
	defer h.wg.Done()
	for {
		select {
		case <-h.ctx.Done():
			return
		case j := <-h.jobs:
			h.run1(j)
		}
	}
}

// job is a transaction to dispatch or a subscription to register; both
// run on the dispatcher goroutine, which alone touches the seen sets.
type job struct {
	t  *txn
	fn func()
}

// run1 runs a job; a transaction takes the ones queued behind it along,
// so that their re-reads overlap.
func (h *Hub) run1(j job) {
	if j.fn != nil {
		j.fn()
		return
	}
	batch := []*txn{j.t}
	var after func()
drain:
	for len(batch) < 256 {
		select {
		case k := <-h.jobs:
			if k.fn != nil {
				after = k.fn
				break drain
			}
			batch = append(batch, k.t)
		default:
			break drain
		}
	}
	h.dispatch(batch)
	for _, t := range batch {
		h.markProcessed(t, true)
	}
	if after != nil {
		after()
	}
}

// committed takes a transaction from the stream: into the resume window,
// then to the subscribers unless it is history replayed at start.
func (h *Hub) committed(ctx context.Context, t *txn) {
	h.mu.Lock()
	if t.LSN <= h.lastCommit {
		h.mu.Unlock()
		return // sent again after a reconnect
	}
	h.lastCommit = t.LSN
	if h.cfg.Retention > 0 && (len(t.Changes) > 0 || len(t.Truncated) > 0) {
		h.ring = append(h.ring, t)
	}
	live := t.LSN >= h.startEnd && (len(t.Changes) > 0 || len(t.Truncated) > 0)
	if live {
		h.pending++
	}
	h.mu.Unlock()
	if !live {
		h.markProcessed(t, false)
		return
	}
	select {
	case h.jobs <- job{t: t}:
	case <-ctx.Done():
	}
}

func (h *Hub) markProcessed(t *txn, dispatched bool) {
	h.mu.Lock()
	if dispatched {
		h.pending--
		h.lagSeconds = time.Since(t.At).Seconds()
	}
	// Positions only move past transactions the dispatcher is done with.
	if t.End > h.processed && (dispatched || h.pending == 0) {
		h.processed = t.End
	}
	h.mu.Unlock()
}

// serverEnd records the server's WAL end (for the lag) and how far it
// has sent us the stream. When no transaction is open, everything up to
// sent is processed (the WAL in between touched no published table), and
// once that reaches where the server stood at start, the history a
// resuming subscriber may need is all in the ring.
func (h *Hub) serverEnd(walEnd, sent pglogrepl.LSN, idle bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if walEnd > h.serverWAL {
		h.serverWAL = walEnd
	}
	if !idle {
		return
	}
	if h.pending == 0 && sent > h.processed && h.lastCommit < sent {
		h.processed = sent
		h.lagSeconds = 0
	}
	if !h.caught && sent >= h.startEnd {
		h.caught = true
		close(h.caughtUp)
	}
}

// confirmable is the position the slot may forget up to: processed,
// sent to every subscriber (or dropped), and out of the retention window.
func (h *Hub) confirmable() pglogrepl.LSN {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	h.marks = append(h.marks, mark{h.processed, now})
	for len(h.marks) > 0 && now.Sub(h.marks[0].at) >= h.cfg.Retention {
		if h.marks[0].pos > h.retained {
			h.retained = h.marks[0].pos
		}
		h.marks = h.marks[1:]
	}
	i := 0
	for i < len(h.ring) && h.ring[i].LSN < h.retained {
		i++
	}
	h.ring = h.ring[i:]
	pos := min(h.retained, h.processed)
	for s := range h.subs {
		if sent, queued := s.lastSent.Load(), s.lastQueued.Load(); sent < queued {
			pos = min(pos, pglogrepl.LSN(sent))
		}
	}
	// A report never goes back: what was confirmed stays confirmed.
	h.confirmed = max(h.confirmed, pos)
	return h.confirmed
}

// advanceIdleSlot moves a slot nobody streams to the present, so a
// pgrest that serves no subscription never holds WAL back for long.
func (h *Hub) advanceIdleSlot() {
	h.startMu.Lock()
	defer h.startMu.Unlock()
	if h.running || h.ctx.Err() != nil {
		return
	}
	ctx, cancel := context.WithTimeout(h.ctx, 30*time.Second)
	defer cancel()
	conn, err := pgconn.Connect(ctx, h.cfg.ConnString)
	if err == nil {
		_, err = conn.Exec(ctx, "SELECT pg_replication_slot_advance(slot_name, pg_current_wal_lsn()) FROM pg_replication_slots WHERE slot_name = '"+
			escapeLiteral(h.cfg.Slot)+"' AND NOT active").ReadAll()
		_ = conn.Close(ctx)
	}
	if err != nil {
		h.cfg.Log.Error().Err(err).Msg("realtime: advancing the idle replication slot")
	}
	h.idle.Reset(h.cfg.Retention)
}

// unavailable is the 503 a subscription gets when streaming cannot start.
func unavailable(err error) *apierr.Error {
	var ms *missingSetting
	if errors.As(err, &ms) {
		return apierr.RealtimeUnavailable("missing "+ms.setting, ms.hint)
	}
	return apierr.RealtimeUnavailable("could not start logical replication", err.Error())
}

// walInsertLSN reads the server's WAL insert position on the replication
// connection (a database replication connection takes plain SQL).
func walInsertLSN(ctx context.Context, conn *pgconn.PgConn) (pglogrepl.LSN, bool) {
	res, err := conn.Exec(ctx, "SELECT pg_catalog.pg_current_wal_insert_lsn()").ReadAll()
	if err != nil || len(res) != 1 || len(res[0].Rows) != 1 || len(res[0].Rows[0]) != 1 {
		return 0, false
	}
	lsn, err := pglogrepl.ParseLSN(string(res[0].Rows[0][0]))
	return lsn, err == nil
}
