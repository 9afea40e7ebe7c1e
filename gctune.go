package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// gcHeadroom is how far the heap may grow past its live size before the
// next collection while the live heap is small. At GOGC=100 a server whose
// live heap is a few MB collects every few MB allocated, i.e. every few
// hundred requests; a fixed headroom makes that rarer at a bounded cost in
// RSS, and a large live heap (big bodies) falls back to GOGC=100.
const gcHeadroom = 8 << 20

var gcTuneOnce sync.Once

// tuneGC re-derives GOGC from the live heap after every collection, unless
// GOGC is set in the environment (the operator's choice wins).
func tuneGC() { gcTuneOnce.Do(startGCTuner) }

func startGCTuner() {
	if os.Getenv("GOGC") != "" {
		return
	}
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	last := 100
	var rearm func(*gcSentinel)
	rearm = func(*gcSentinel) {
		metrics.Read(sample)
		if p := gcPercent(sample[0].Value.Uint64()); p != last {
			debug.SetGCPercent(p)
			last = p
		}
		runtime.SetFinalizer(&gcSentinel{}, rearm)
	}
	runtime.SetFinalizer(&gcSentinel{}, rearm)
}

// gcSentinel is garbage at once: its finalizer runs after each collection.
type gcSentinel struct{ _ [16]byte }

// gcPercent keeps gcHeadroom of growth for a small live heap, never below
// GOGC=100 nor above 400.
func gcPercent(live uint64) int {
	if live == 0 {
		return 100
	}
	p := int(gcHeadroom * 100 / live)
	return max(100, min(p, 400))
}
