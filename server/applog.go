package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pgrest/pgrest/apierr"
	"github.com/pgrest/pgrest/executor"
	"github.com/pgrest/pgrest/server/config"
	"github.com/rs/zerolog"
)

// PostgREST stamps its log lines with this layout (strftime %d/%b/%Y:%T %z).
const logTimeLayout = "02/Jan/2006:15:04:05 -0700"

// NewLogger is the diagnostic log for cfg: PostgREST's plain lines
// ("30/Nov/2026:00:30:00 +0000: message") by default, one JSON object per
// line with pgrest-log-format = json. Its level follows log-level, which a
// config reload may change (v16 reloads it); setLevel applies a new one.
func NewLogger(cfg *config.Config, w io.Writer) (log zerolog.Logger, setLevel func(string)) {
	if cfg.LogFormat != "json" {
		w = &textLog{w: w}
	}
	f := &levelFilter{w: w}
	f.level.Store(int32(LogLevel(cfg.LogLevel)))
	setLevel = func(name string) { f.level.Store(int32(LogLevel(name))) }
	return zerolog.New(f).With().Timestamp().Logger(), setLevel
}

// levelFilter drops events below the current level; events without a level
// (PostgREST's always-shown messages) pass.
type levelFilter struct {
	w     io.Writer
	level atomic.Int32
}

func (f *levelFilter) Write(p []byte) (int, error) { return f.w.Write(p) }

func (f *levelFilter) WriteLevel(l zerolog.Level, p []byte) (int, error) {
	if l != zerolog.NoLevel && int32(l) < f.level.Load() {
		return len(p), nil
	}
	return f.w.Write(p)
}

// OnLogLevel registers how a reloaded log-level is applied to the log.
func (a *App) OnLogLevel(set func(string)) { a.setLogLevel = set }

// textLog turns zerolog's JSON events into PostgREST's lines: the message,
// or the logged SQL for log-query, with the error appended.
type textLog struct {
	mu sync.Mutex
	w  io.Writer
}

func (t *textLog) Write(p []byte) (int, error) {
	var ev map[string]any
	if err := json.Unmarshal(p, &ev); err != nil {
		return t.w.Write(p)
	}
	msg, _ := ev[zerolog.MessageFieldName].(string)
	if q, ok := ev["query"].(string); ok {
		msg = oneLine(q)
	}
	if e, ok := ev[zerolog.ErrorFieldName].(string); ok {
		if msg != "" {
			msg += ": "
		}
		msg += e
	}
	ts := time.Now()
	if s, ok := ev[zerolog.TimestampFieldName].(string); ok {
		if parsed, err := time.Parse(zerolog.TimeFieldFormat, s); err == nil {
			ts = parsed.Local()
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, err := fmt.Fprintf(t.w, "%s: %s\n", ts.Format(logTimeLayout), msg); err != nil {
		return 0, err
	}
	return len(p), nil
}

// oneLine writes multi-line SQL on one line, as PostgREST logs it.
func oneLine(s string) string {
	// As PostgREST: line breaks become spaces, other spacing is kept.
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}

// SetAccessLog sends the per-request log to w in PostgREST's format (the
// Apache combined log line, on stdout in PostgREST) instead of the
// diagnostic log.
func (a *App) SetAccessLog(w io.Writer) { a.accessLog = w }

// logsStatus is PostgREST's rule for which responses the request log
// shows at each log level.
func logsStatus(level string, status int) bool {
	switch level {
	case "crit":
		return false
	case "error":
		return status >= 500
	case "warn":
		return status >= 400
	}
	return true
}

// setLogRole records the request's database role for the request log.
func setLogRole(r *http.Request, role string) {
	if st := stateOf(r); st != nil {
		st.role = role
	}
}

// WarnDeprecated logs v16's warning for a jwt-role-claim-key in the
// pre-v16 JSPath syntax, at start-up and after each config reload.
func WarnDeprecated(log zerolog.Logger, cfg *config.Config) {
	if !config.LegacyRoleClaimKey(cfg.JWTRoleClaimKey) {
		return
	}
	key := "`jwt-role-claim-key=" + config.LegacyRoleClaimKeyText(cfg.JWTRoleClaimKey) + "`"
	log.Log().Msg("WARNING: The config " + key + " is using the deprecated JSPath syntax.")
	log.Log().Msg("Update " + key + " to the new JSONPath syntax as support for JSPath will be removed in a future release." +
		" See the migration guide on how to update: https://github.com/PostgREST/postgrest/blob/main/CHANGELOG.md#migration-to-v16")
}

// setLogQueries makes the request's transaction record the statements
// it sends, for log-query.
func setLogQueries(r *http.Request, tc *executor.TxContext) {
	if st := stateOf(r); st != nil {
		st.tx = tc
	}
}

// logQueries is v16's log-query: once the response is known, each
// statement on a line of its own, for the responses the request log shows
// at the log level (5xx at error, 4xx and 5xx at warn, all at info and
// debug, none at crit).
func (a *App) logQueries(st *reqState, level string, status int) {
	if st.tx == nil || !logsStatus(level, status) {
		return
	}
	for _, q := range st.tx.Sent {
		a.log.Log().Str("query", q).Send()
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
	size   int64
}

// Unwrap lets http.ResponseController reach the connection (deadlines).
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	n, err := s.ResponseWriter.Write(b)
	s.size += int64(n)
	return n, err
}

// Flush is http.Flusher's form of FlushError (a realtime stream uses it).
func (s *statusWriter) Flush() { _ = s.FlushError() }

// FlushError flushes through the writers below, which may reach the
// connection only by Unwrap (a streamed response needs it).
func (s *statusWriter) FlushError() error {
	return http.NewResponseController(s.ResponseWriter).Flush()
}

func (a *App) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		st := stateOf(r)
		if st == nil { // not below limitRequests (tests)
			r, _ = a.withDerived(r)
			st = stateOf(r)
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		a.logQueries(st, a.derivedFor(r).cfg.LogLevel, sw.status)
		role := st.role
		if a.accessLog != nil {
			if logsStatus(a.derivedFor(r).cfg.LogLevel, sw.status) {
				if _, err := a.accessLog.Write(apacheLine(r, sw, role, start)); err != nil {
					a.internalError("writing the request log", err)
				}
			}
			return
		}
		lvl := zerolog.InfoLevel
		if sw.status >= 500 {
			lvl = zerolog.ErrorLevel
		} else if sw.status >= 400 {
			lvl = zerolog.WarnLevel
		}
		a.log.WithLevel(lvl).Str("method", r.Method).Str("path", r.URL.RequestURI()).
			Int("status", sw.status).Dur("duration", time.Since(start)).Str("role", role).Msg("request")
	})
}

// apacheLine is the Apache combined log line:
// host - role [time] "METHOD /path?query HTTP/1.1" status size "referer" "user-agent".
func apacheLine(r *http.Request, sw *statusWriter, role string, at time.Time) []byte {
	host := r.RemoteAddr
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host == "" || host == "@" {
		host = "-"
	}
	if role == "" {
		role = "-"
	}
	size := "-"
	if sw.size > 0 {
		size = fmt.Sprint(sw.size)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s - %s [%s] \"%s %s %s\" %d %s \"%s\" \"%s\"\n", host, role, at.Format(logTimeLayout),
		r.Method, r.URL.RequestURI(), r.Proto, sw.status, size, r.Referer(), r.UserAgent())
	return b.Bytes()
}

// logServerError logs a 5xx the way PostgREST does: an error of the
// database or of the connection to it is logged as its JSON body (at
// log-level error and above); the others (PGRST300, a missing JWT
// secret, ...) are answered and not logged, but still counted.
func (a *App) logServerError(e *apierr.Error) {
	a.internalErrors.Add(1)
	switch {
	case e.Code == "PGRST003":
		// A pool that is exhausted fails every waiting request at once: v16
		// logs the first timeout, and one more after a cooldown if others
		// came meanwhile, rather than a line per request.
		line := string(e.JSON())
		a.poolTimeoutLog.trigger(poolTimeoutCooldown, func() { a.log.Error().Msg(line) })
	case strings.HasPrefix(e.Code, "PGRST00"), !strings.HasPrefix(e.Code, "PGRST"):
		a.log.Error().Msg(string(e.JSON()))
	}
}

const poolTimeoutCooldown = 5 * time.Second

// debouncer runs an action at once when idle; triggers while it cools
// down are folded into one more run at the end of the cooldown.
type debouncer struct {
	mu               sync.Mutex
	cooling, pending bool
}

func (d *debouncer) trigger(cooldown time.Duration, f func()) {
	d.mu.Lock()
	if d.cooling {
		d.pending = true
		d.mu.Unlock()
		return
	}
	d.cooling = true
	d.mu.Unlock()
	f()
	go func() {
		for {
			time.Sleep(cooldown)
			d.mu.Lock()
			again := d.pending
			d.pending, d.cooling = false, again
			d.mu.Unlock()
			if !again {
				return
			}
			f()
		}
	}()
}

// dbErrorText is how PostgREST shows a failed query in its log: the
// error's JSON body, as a client would get it; other errors as text.
func dbErrorText(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return string(executor.ToAPIError(pe, false).JSON())
	}
	return " " + err.Error()
}

// statementContext is the context a request's transaction runs under. As
// in PostgREST, a client that goes away does not cancel it (the statement
// runs to its end, within statement_timeout); shutting down still does.
// done releases it.
func (a *App) statementContext(r *http.Request) (ctx context.Context, done func()) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	stop := context.AfterFunc(a.requests, cancel)
	return ctx, func() { stop(); cancel() }
}
