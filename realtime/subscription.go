package realtime

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/pgrest/pgrest/apierr"
	"github.com/pgrest/pgrest/cache"
	"github.com/pgrest/pgrest/executor"
	"github.com/pgrest/pgrest/planner"
	"github.com/pgrest/pgrest/request"
)

// Event is one SSE event: insert, update, delete, reset or error.
type Event struct {
	Kind string
	ID   string
	Data []byte
	lsn  pglogrepl.LSN
}

// Params describe a subscription: the read request (Accept already
// narrowed to JSON), the transaction context it runs with, the planner
// options of its configuration, and the Last-Event-ID it resumes after.
type Params struct {
	Req         *request.Request
	Tx          *executor.TxContext
	Opts        planner.Options
	LastEventID string
}

// Subscription is one open stream.
type Subscription struct {
	h     *Hub
	req   *request.Request
	tx    executor.TxContext
	opts  planner.Options
	rel   cache.QI
	group string
	// keyField is the JSON field of a rendered row that holds its
	// single-column key, "" when rows can't be told apart (then they are
	// re-read one by one).
	keyField string
	// seen holds the rows this subscriber was shown as visible; only the
	// dispatcher goroutine touches it.
	seen map[string]bool

	events               chan *Event // pointers: an idle buffer costs 8 bytes a slot
	dropped              chan struct{}
	dropOnce             sync.Once
	reason               string
	lastQueued, lastSent atomic.Uint64
}

// Events are the subscription's events, in commit order.
func (s *Subscription) Events() <-chan *Event { return s.events }

// Dropped closes when the hub ends the subscription; Reason says why.
func (s *Subscription) Dropped() <-chan struct{} { return s.dropped }

// Reason is why the subscription was dropped.
func (s *Subscription) Reason() string { return s.reason }

// Sent acknowledges that an event reached the client's connection.
func (s *Subscription) Sent(e *Event) {
	s.h.sent.Add(1)
	if e.lsn > 0 {
		s.lastSent.Store(uint64(e.lsn))
	}
}

// Close ends the subscription (the client went away).
func (s *Subscription) Close() { s.h.remove(s) }

func (s *Subscription) drop(reason string) {
	s.dropOnce.Do(func() {
		s.reason = reason
		close(s.dropped)
	})
	s.h.remove(s)
}

func (s *Subscription) enqueue(e Event) {
	select {
	case s.events <- &e:
		if e.lsn > 0 {
			s.lastQueued.Store(uint64(e.lsn))
		}
	default:
		s.h.dropped.Add(1)
		s.drop("subscriber too slow: more than " + strconv.Itoa(cap(s.events)) + " events unsent")
	}
}

func (h *Hub) remove(s *Subscription) {
	h.mu.Lock()
	delete(h.subs, s)
	h.mu.Unlock()
}

// Subscribe opens a subscription, or says why not as a PostgREST-style
// error (the handler has planned the request already, so names are valid).
func (h *Hub) Subscribe(ctx context.Context, p Params) (*Subscription, error) {
	if !h.cfg.Enabled {
		return nil, apierr.RealtimeDisabled()
	}
	h.mu.Lock()
	n := len(h.subs)
	h.mu.Unlock()
	if n >= h.cfg.MaxSubscriptions {
		return nil, apierr.RealtimeTooMany(h.cfg.MaxSubscriptions)
	}
	rel := h.holder.Load().Relation(p.Req.Schema, p.Req.Resource)
	if rel == nil || len(rel.PrimaryKey) == 0 || (rel.Kind != cache.KindTable && rel.Kind != cache.KindPartitioned) {
		return nil, apierr.RealtimeNeedsKey(p.Req.Schema + "." + p.Req.Resource)
	}
	after, hasAfter, aerr := parseEventID(p.LastEventID)
	if aerr != nil {
		return nil, aerr
	}
	s := &Subscription{h: h, req: p.Req, tx: *p.Tx, opts: p.Opts, rel: rel.QI(), seen: map[string]bool{},
		events: make(chan *Event, h.cfg.Buffer), dropped: make(chan struct{})}
	s.tx.Check, s.tx.Deliver = nil, nil
	s.group = groupKey(p)
	s.keyField = keyField(p.Req, p.Opts, rel.PrimaryKey)
	if err := h.probe(s); err != nil {
		return nil, err
	}
	if err := h.ensureStarted(ctx); err != nil {
		return nil, unavailable(err)
	}
	if hasAfter {
		// The history must be in the ring before it is replayed; a server
		// that never says how far it got costs a bounded wait, then the
		// ring as it is.
		wait := time.NewTimer(30 * time.Second)
		select {
		case <-h.caughtUp:
		case <-wait.C:
		case <-ctx.Done():
			wait.Stop()
			return nil, ctx.Err()
		}
		wait.Stop()
	}
	done := make(chan error, 1)
	register := func() {
		err := h.initSeen(s, rel.PrimaryKey)
		if err == nil {
			if hasAfter {
				h.replay(s, after)
			}
			h.mu.Lock()
			h.subs[s] = struct{}{}
			h.mu.Unlock()
		}
		done <- err
	}
	select {
	case h.jobs <- job{fn: register}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case err := <-done:
		if err != nil {
			return nil, err
		}
		return s, nil
	case <-ctx.Done():
		// the job may still register it: make sure it goes
		go func() {
			if <-done == nil {
				h.remove(s)
			}
		}()
		return nil, ctx.Err()
	}
}

// groupKey: subscribers with the same key see the same rows, so one
// re-read serves them all.
func groupKey(p Params) string {
	t := p.Tx
	return strings.Join([]string{t.Role, t.ClaimsJSON, t.SearchPath, t.Timezone, t.HeadersJSON, t.CookiesJSON,
		p.Req.Schema, p.Req.Resource, p.Req.CanonicalQuery()}, "\x00")
}

// eventID is the commit LSN and the change's position in its transaction.
func eventID(lsn pglogrepl.LSN, pos int) string { return lsn.String() + ":" + strconv.Itoa(pos) }

type position struct {
	lsn pglogrepl.LSN
	pos int
}

func parseEventID(id string) (position, bool, *apierr.Error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return position{}, false, nil
	}
	bad := apierr.InvalidLastEventID(id)
	l, p, ok := strings.Cut(id, ":")
	if !ok {
		return position{}, false, bad
	}
	lsn, err := pglogrepl.ParseLSN(l)
	n, err2 := strconv.Atoi(p)
	if err != nil || err2 != nil {
		return position{}, false, bad
	}
	return position{lsn, n}, true, nil
}

// replay sends a resuming subscriber what happened after its last event:
// the retained changes, re-read now, or a reset when the window no longer
// reaches back that far.
func (h *Hub) replay(s *Subscription, after position) {
	h.mu.Lock()
	retained := h.retained
	var ring []*txn
	for _, t := range h.ring {
		if t.LSN >= after.lsn {
			ring = append(ring, t)
		}
	}
	h.mu.Unlock()
	if after.lsn < retained {
		s.enqueue(Event{Kind: "reset", Data: []byte(`{"reason":"the changes after this event id are no longer retained"}`)})
		return
	}
	for _, t := range ring {
		h.deliver(t, []*Subscription{s}, func(c *change) bool { return t.LSN > after.lsn || c.Pos > after.pos }, true, rereads{})
	}
}

// dispatch sends a batch of transactions to the live subscribers. Every
// row the batch changed is re-read first, concurrently (all after their
// commits, so any order renders the present); events then go out in
// commit order.
func (h *Hub) dispatch(ts []*txn) {
	h.mu.Lock()
	subs := make([]*Subscription, 0, len(h.subs))
	for s := range h.subs {
		subs = append(subs, s)
	}
	h.mu.Unlock()
	cache := h.rereadAll(ts, subs)
	for _, t := range ts {
		h.deliver(t, subs, func(*change) bool { return true }, false, cache)
	}
}

// deliver queues a transaction's events, re-reading what cache lacks.
// The last change of a row in a transaction stands for all of them.
func (h *Hub) deliver(t *txn, subs []*Subscription, want func(*change) bool, resumed bool, cache rereads) {
	for _, qi := range t.Truncated {
		for _, s := range subs {
			if s.rel == qi {
				clear(s.seen)
				s.enqueue(Event{Kind: "reset", ID: eventID(t.LSN, 0), Data: []byte(`{"reason":"the table was truncated"}`), lsn: t.LSN})
			}
		}
	}
	last := map[string]int{}
	for i := range t.Changes {
		last[t.Changes[i].ident()] = i
	}
	for i := range t.Changes {
		c := &t.Changes[i]
		id := c.ident()
		if last[id] != i || !want(c) {
			continue
		}
		for _, s := range subs {
			if s.rel != c.Rel {
				continue
			}
			k := rereadKey{s.group, id}
			r, ok := cache[k]
			if !ok {
				r.row, r.err = h.reread(s, c)
				cache[k] = r
			}
			if r.err != nil {
				s.enqueue(errorEvent(r.err))
				s.drop("re-reading a changed row failed")
				continue
			}
			if kind := s.classify(id, r.row != nil, c.Op, resumed); kind != "" {
				data := r.row
				if kind == "delete" {
					data = keyJSON(c.Key)
				}
				s.enqueue(Event{Kind: kind, ID: eventID(t.LSN, c.Pos), Data: data, lsn: t.LSN})
			}
		}
	}
}

// classify turns visibility into an event: what the subscriber has seen
// decides insert vs update, and a row it saw that is no longer visible is
// a delete. A resumed subscriber never saw the replayed rows, so the WAL
// operation decides.
func (s *Subscription) classify(id string, visible bool, op byte, resumed bool) string {
	was := s.seen[id]
	switch {
	case visible:
		s.seen[id] = true
		if (resumed && op != 'I') || (!resumed && was) {
			return "update"
		}
		return "insert"
	case was || resumed:
		delete(s.seen, id)
		return "delete"
	}
	return ""
}

// errorEvent tells the subscriber why its stream ends.
func errorEvent(err error) Event {
	return Event{Kind: "error", Data: executor.ToAPIError(err, true).JSON()}
}

// keyJSON renders a deleted row's primary key; numbers and booleans stay
// JSON numbers and booleans.
func keyJSON(key []keyVal) []byte {
	m := make(map[string]json.RawMessage, len(key))
	for _, k := range key {
		switch k.OID {
		case 20, 21, 23, 700, 701, 1700, 16:
			v := k.Val
			if k.OID == 16 {
				v = strconv.FormatBool(v == "t")
			}
			m[k.Col] = json.RawMessage(v)
		default:
			b, _ := json.Marshal(k.Val)
			m[k.Col] = b
		}
	}
	b, _ := json.Marshal(m)
	return b
}

// reread renders one changed row with the subscription's own request
// narrowed to its key, as the subscriber's role: nil when not visible.
func (h *Hub) reread(s *Subscription, c *change) ([]byte, error) {
	r := *s.req
	r.Filters = append(append([]request.Filter(nil), s.req.Filters...), keyFilters(c.Key)...)
	r.Ranges = withoutRootRange(s.req.Ranges)
	body, err := h.run(&r, s, c.Cols)
	if err != nil {
		return nil, err
	}
	var rows []json.RawMessage
	if err := json.Unmarshal(body, &rows); err != nil {
		return nil, fmt.Errorf("realtime: reading a re-read row: %w", err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	return rows[0], nil
}

// run plans and executes a request as the subscriber. When the WAL shows
// columns the schema cache does not know yet (a DDL change racing the
// listener), it waits briefly for the snapshot that has them.
func (h *Hub) run(r *request.Request, s *Subscription, walCols []string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(h.ctx, 15*time.Second)
	defer cancel()
	snap := h.holder.Load()
	if walCols != nil && !sameColumns(snap.Relation(s.rel.Schema, s.rel.Name), walCols) {
		snap = h.awaitColumns(ctx, snap, s.rel, walCols)
	}
	plan, err := h.planner.Plan(r, snap, s.opts)
	if err != nil {
		return nil, err
	}
	tx := s.tx
	res, err := h.exec.Run(ctx, plan, &tx)
	if err != nil {
		return nil, err
	}
	return res.Body, nil
}

// awaitColumns waits up to 3s for a snapshot with the WAL's columns. A
// database without pgrest's event triggers may never send one: a shape
// that timed out once is not waited for again.
func (h *Hub) awaitColumns(ctx context.Context, snap *cache.Snapshot, rel cache.QI, cols []string) *cache.Snapshot {
	sig := rel.String() + "\x00" + strings.Join(cols, "\x00")
	h.mu.Lock()
	gaveUp := h.stale[sig]
	h.mu.Unlock()
	if gaveUp {
		return snap
	}
	wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	for !sameColumns(snap.Relation(rel.Schema, rel.Name), cols) {
		next, ok := h.holder.WaitVersion(wctx, snap.Version+1)
		if !ok {
			h.mu.Lock()
			h.stale[sig] = true
			h.mu.Unlock()
			break
		}
		snap = next
	}
	return snap
}

func sameColumns(rel *cache.Relation, cols []string) bool {
	if rel == nil || len(rel.Columns) != len(cols) {
		return false
	}
	for _, c := range cols {
		if rel.Column(c) == nil {
			return false
		}
	}
	return true
}

func keyFilters(key []keyVal) []request.Filter {
	out := make([]request.Filter, len(key))
	for i, k := range key {
		out[i] = request.Filter{Field: request.Field{Name: k.Col}, Op: request.Operation{Op: "eq", Value: k.Val}}
	}
	return out
}

// withoutRootRange: a changed row is judged by the filters; paging the
// root would hide it.
func withoutRootRange(rs []request.Range) []request.Range {
	var out []request.Range
	for _, r := range rs {
		if len(r.Path) > 0 {
			out = append(out, r)
		}
	}
	return out
}

// probe runs the request itself, reading no row: columns and privileges
// are checked when a statement runs, and a subscriber whose read fails gets
// the read's error now rather than a broken stream.
func (h *Hub) probe(s *Subscription) error {
	zero := int64(0)
	r := *s.req
	r.Ranges = append(withoutRootRange(s.req.Ranges), request.Range{Limit: &zero})
	_, err := h.run(&r, s, nil)
	return err
}

// initSeen records which rows the subscriber sees now, so a later change
// of one is an update: the request's filters with only the key selected
// (as text, the form the WAL gives) and its inner-joined embeds.
func (h *Hub) initSeen(s *Subscription, pk []string) error {
	r := *s.req
	r.Select = nil
	for _, col := range pk {
		r.Select = append(r.Select, request.SelectItem{Field: request.Field{Name: col}, Cast: "text"})
	}
	for _, it := range s.req.Select {
		if it.Embed != nil && it.Embed.JoinType == "inner" {
			r.Select = append(r.Select, it)
		}
	}
	r.Ranges = withoutRootRange(s.req.Ranges)
	r.Orders = nil
	body, err := h.run(&r, s, nil)
	if err != nil {
		return err
	}
	var rows []map[string]any
	if err := json.Unmarshal(body, &rows); err != nil {
		return fmt.Errorf("realtime: reading the visible keys: %w", err)
	}
	for _, row := range rows {
		c := change{Rel: s.rel}
		for _, col := range pk {
			v, _ := row[col].(string)
			c.Key = append(c.Key, keyVal{Col: col, Val: v})
		}
		s.seen[c.ident()] = true
	}
	return nil
}
