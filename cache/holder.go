package cache

import (
	"context"
	"sync"
	"sync/atomic"
)

// Holder publishes the current Snapshot. Readers take the pointer once per
// request and keep it to the end, so a swap never changes a request midway;
// the old snapshot is garbage once the last request holding it finishes.
type Holder struct {
	p atomic.Pointer[Snapshot]

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every swap
}

// NewHolder returns an empty holder; Load is nil until the first Store.
func NewHolder() *Holder { return &Holder{changed: make(chan struct{})} }

// Load returns the current snapshot, nil before the first load.
func (h *Holder) Load() *Snapshot { return h.p.Load() }

// Store publishes s (already finalized) and wakes version waiters.
func (h *Holder) Store(s *Snapshot) {
	h.p.Store(s)
	h.mu.Lock()
	close(h.changed)
	h.changed = make(chan struct{})
	h.mu.Unlock()
}

// WaitVersion returns a snapshot whose Version is at least v, waiting for a
// swap until ctx ends. It returns the latest snapshot and false on timeout.
func (h *Holder) WaitVersion(ctx context.Context, v int64) (*Snapshot, bool) {
	for {
		h.mu.Lock()
		ch := h.changed
		h.mu.Unlock()
		s := h.p.Load()
		if s != nil && s.Version >= v {
			return s, true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return h.p.Load(), false
		}
	}
}
