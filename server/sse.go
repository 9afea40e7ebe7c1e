package server

import (
	"bytes"
	"net/http"
	"strings"
	"time"

	"github.com/pgrest/pgrest/apierr"
	"github.com/pgrest/pgrest/cache"
	"github.com/pgrest/pgrest/executor"
	"github.com/pgrest/pgrest/realtime"
	"github.com/pgrest/pgrest/request"
	"github.com/pgrest/pgrest/server/auth"
	"github.com/pgrest/pgrest/server/config"
)

// wantsEvents: a read asking for text/event-stream is a subscription.
func wantsEvents(r *http.Request, req *request.Request) bool {
	if req.Action != request.ActRead || req.HeadOnly {
		return false
	}
	for _, v := range r.Header.Values("Accept") {
		if strings.Contains(strings.ToLower(v), "text/event-stream") {
			return true
		}
	}
	return false
}

// realtimeConfig is the hub's part of the configuration.
func realtimeConfig(cfg *config.Config) realtime.Config {
	return realtime.Config{
		Enabled:          cfg.RealtimeEnabled,
		ConnString:       cfg.DBURI,
		Slot:             cfg.RealtimeSlotPrefix,
		Publication:      cfg.RealtimeSlotPrefix,
		MaxSubscriptions: cfg.RealtimeMaxSubscriptions,
		Buffer:           cfg.RealtimeBuffer,
		Retention:        cfg.RealtimeRetention,
	}
}

// serveEvents answers a subscription: the request is planned like the
// read it is (so its errors are the read's), then each change arrives as
// one Server-Sent Event rendered by that same request.
func (a *App) serveEvents(w http.ResponseWriter, r *http.Request, rt *derived, snap *cache.Snapshot, req *request.Request, who *auth.Result) {
	cfg := rt.cfg
	authenticated := !who.Anonymous
	req.Accept = []request.MediaType{{Type: "application", Subtype: "json", Q: 1}}
	opts := planOptions(cfg)
	if _, err := a.planner.Plan(req, snap, opts); err != nil {
		a.fail(w, cfg, executor.ToAPIError(err, authenticated))
		return
	}
	tc, aerr := a.txContext(rt, req, who.Role, who.ClaimsJSON, authenticated)
	if aerr != nil {
		a.fail(w, cfg, aerr)
		return
	}
	sub, err := a.realtime.Subscribe(r.Context(), realtime.Params{Req: req, Tx: tc, Opts: opts, LastEventID: r.Header.Get("Last-Event-ID")})
	if err != nil {
		if r.Context().Err() == nil {
			a.fail(w, cfg, executor.ToAPIError(err, authenticated))
		}
		return
	}
	defer sub.Close()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // proxies must not hold events back
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if rc.Flush() != nil {
		return
	}
	a.pump(w, rc, r, cfg, sub, who.Expires())
}

// pump writes events until the client leaves, the token expires or the
// hub drops the subscription. Heartbeats keep proxies from timing out.
func (a *App) pump(w http.ResponseWriter, rc *http.ResponseController, r *http.Request, cfg *config.Config, sub *realtime.Subscription, exp time.Time) {
	beat := time.NewTicker(max(cfg.RealtimeHeartbeat, 100*time.Millisecond))
	defer beat.Stop()
	var expired <-chan time.Time
	if !exp.IsZero() {
		t := time.NewTimer(time.Until(exp))
		defer t.Stop()
		expired = t.C
	}
	send := func(b []byte) bool {
		_, err := w.Write(b)
		return err == nil && rc.Flush() == nil
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-beat.C:
			if !send([]byte(": heartbeat\n\n")) {
				return
			}
		case <-expired:
			e := apierr.JWTClaimsError("JWT expired")
			send(sseEvent(realtime.Event{Kind: "error", Data: e.JSON()}))
			return
		case <-sub.Dropped():
			send(sseEvent(realtime.Event{Kind: "error", Data: apierr.RealtimeDropped(sub.Reason()).JSON()}))
			return
		case ev := <-sub.Events():
			if !a.writeEvents(w, rc, sub, ev) {
				return
			}
		}
	}
}

// writeEvents writes ev and whatever else is queued behind it, then
// flushes once: a busy stream costs one write per burst, not per event.
// It reports whether the stream goes on.
func (a *App) writeEvents(w http.ResponseWriter, rc *http.ResponseController, sub *realtime.Subscription, ev *realtime.Event) bool {
	for n := 0; ; n++ {
		if _, err := w.Write(sseEvent(*ev)); err != nil {
			return false
		}
		sub.Sent(ev)
		if ev.Kind == "error" {
			_ = rc.Flush()
			return false
		}
		select {
		case next := <-sub.Events():
			if n < 64 {
				ev = next
				continue
			}
			if rc.Flush() != nil {
				return false
			}
			n, ev = -1, next
			continue
		default:
		}
		return rc.Flush() == nil
	}
}

// sseEvent frames an event; a body with line breaks becomes several data
// lines, which the client joins back with "\n".
func sseEvent(ev realtime.Event) []byte {
	var b bytes.Buffer
	b.WriteString("event: " + ev.Kind + "\n")
	if ev.ID != "" {
		b.WriteString("id: " + ev.ID + "\n")
	}
	for _, line := range bytes.Split(ev.Data, []byte("\n")) {
		b.WriteString("data: ")
		b.Write(bytes.TrimSuffix(line, []byte("\r")))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	return b.Bytes()
}

// RealtimeStats exposes the realtime figures (metrics, tests).
func (a *App) RealtimeStats() realtime.Stats { return a.realtime.Stats() }
