package server

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// defaultVary is what PostgREST's responses vary on; a Vary set by the
// database through response.headers replaces it.
const defaultVary = "Accept, Prefer, Range"

var defaultVaryValue = []string{defaultVary}

// edgeWriter adds the headers every API response gets when it starts:
// Server-Timing with the duration of each phase (server-timing-enabled),
// and the default Vary on responses that are not errors.
type edgeWriter struct {
	http.ResponseWriter
	timed   bool
	last    time.Time
	phases  []string
	written bool
}

func newEdgeWriter(w http.ResponseWriter, timed bool) *edgeWriter {
	t := &edgeWriter{ResponseWriter: w, timed: timed}
	if timed {
		t.last = time.Now()
	}
	return t
}

// mark ends the phase called name.
func (t *edgeWriter) mark(name string) {
	if !t.timed {
		return
	}
	now := time.Now()
	ms := float64(now.Sub(t.last).Microseconds()) / 1000
	t.phases = append(t.phases, name+";dur="+strconv.FormatFloat(ms, 'f', 1, 64))
	t.last = now
}

// markPhase ends a phase on the request's writer, if it records them.
func markPhase(w http.ResponseWriter, name string) {
	if t, ok := w.(*edgeWriter); ok {
		t.mark(name)
	}
}

func (t *edgeWriter) WriteHeader(status int) {
	if !t.written {
		t.written = true
		h := t.Header()
		if t.timed {
			t.mark("response")
			h.Set("Server-Timing", strings.Join(t.phases, ", "))
		}
		// Errors carry Proxy-Status and, as in PostgREST, no Vary.
		if h.Get("Vary") == "" && h.Get("Proxy-Status") == "" {
			h["Vary"] = defaultVaryValue // shared: see jsonTypeValue
		}
	}
	t.ResponseWriter.WriteHeader(status)
}

func (t *edgeWriter) Write(b []byte) (int, error) {
	if !t.written {
		t.WriteHeader(http.StatusOK)
	}
	return t.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flushes of
// streamed responses).
func (t *edgeWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }
