package server

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/pprof"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/pgrest/pgrest/server/config"
)

// StartAdmin serves the admin endpoints (references/admin_server) on
// admin-server-unix-socket, or on admin-server-host/port when the port is
// set; without either there is no admin server.
func (a *App) StartAdmin() error {
	cfg := a.config()
	var l net.Listener
	var err error
	switch {
	case cfg.AdminServerUnixSocket != "":
		l, err = listenUnix(cfg.AdminServerUnixSocket, cfg.AdminServerUnixSocketMode)
	case cfg.AdminServerPort != nil:
		l, err = listenTCP(AdminHost(cfg), *cfg.AdminServerPort, false)
	default:
		return nil
	}
	if err != nil {
		return err
	}
	a.log.Log().Msg("Admin server listening on " + DescribeAddr(l.Addr()))
	return a.ServeAdmin(l)
}

// AdminHost is admin-server-host, which defaults to server-host.
func AdminHost(cfg *config.Config) string {
	if cfg.AdminServerHost != "" {
		return cfg.AdminServerHost
	}
	return cfg.ServerHost
}

// DescribeAddr is how PostgREST names a listening address in its log.
func DescribeAddr(addr net.Addr) string {
	if addr.Network() == "unix" {
		return "unix socket " + addr.String()
	}
	return addr.String()
}

// ServeAdmin serves the admin endpoints on l in the background.
func (a *App) ServeAdmin(l net.Listener) error {
	r := mux.NewRouter()
	r.Path("/live").HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !a.apiReachable() {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	r.Path("/ready").HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.WriteHeader(a.readiness(req.Context()))
	})
	r.Path("/schema_cache").HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		snap := a.holder.Load()
		if snap == nil {
			return // PostgREST: 200 and no body before the first load
		}
		b := SchemaCacheJSON(snap)
		w.Header().Set("Content-Type", jsonType)
		w.Header().Set(HeaderSchemaVersion, strconv.FormatInt(snap.Version, 10))
		w.Write(b)
	})
	r.Path("/metrics").Handler(metricsContentType(a.metrics()))
	if a.config().AdminPprof {
		// Opt-in: profiles of a running instance, on the admin port only.
		r.PathPrefix("/debug/pprof/profile").HandlerFunc(pprof.Profile)
		r.PathPrefix("/debug/pprof/trace").HandlerFunc(pprof.Trace)
		r.PathPrefix("/debug/pprof/symbol").HandlerFunc(pprof.Symbol)
		r.PathPrefix("/debug/pprof/cmdline").HandlerFunc(pprof.Cmdline)
		r.PathPrefix("/debug/pprof/").HandlerFunc(pprof.Index)
	}
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNotFound) // PostgREST's admin 404 has no body
	})
	r.Path("/status").HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		st := a.schema.Stats()
		w.Header().Set("Content-Type", jsonType)
		_ = json.NewEncoder(w).Encode(map[string]any{ // a failed write: the client left
			"schema_version":       st.Version,
			"schema_load_ms":       st.LastLoadDuration.Milliseconds(),
			"schema_loads":         st.Loads,
			"schema_load_failures": st.Failures,
			"schema_behind":        st.Behind,
			"schema_latest_event":  st.Latest,
			"schema_last_error":    st.LastError,
			"schema_last_load":     st.LastKind,
			"plan_cache_hits":      a.planner.Hits(),
			"plan_cache_misses":    a.planner.Misses(),
			"replicas":             a.replicaStatus(),
		})
	})
	a.adminSrv = newHTTPServer(serverHeader(r), a.config(), a.requests)
	go func() {
		if err := a.adminSrv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.internalError("admin server stopped", err)
		}
	}()
	return nil
}

// readiness is PostgREST's /ready: 500 when the API does not accept
// connections, 503 while the schema cache loads or the database is
// unreachable (pgrest is reconnecting), else 200.
func (a *App) readiness(ctx context.Context) int {
	if !a.apiReachable() {
		return http.StatusInternalServerError
	}
	// Behind: no snapshot yet, a load failed, or the event log is ahead of
	// the snapshot; requests would see a stale API.
	if a.holder.Load() == nil || a.schema.Behind() {
		return http.StatusServiceUnavailable
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if a.pool.Ping(pctx) != nil {
		return http.StatusServiceUnavailable
	}
	return http.StatusOK
}

// apiReachable connects to the API listener, as PostgREST's admin server
// does, to tell whether the main app still accepts connections.
func (a *App) apiReachable() bool {
	p := a.apiAddr.Load()
	if p == nil {
		return false
	}
	c, err := net.DialTimeout((*p).Network(), (*p).String(), 2*time.Second)
	if err != nil {
		return false
	}
	_ = c.Close() // a probe connection: reaching it was the answer
	return true
}

// metricsContentType serves the metrics as PostgREST does: the text
// format as text/plain; charset=utf-8, each value written as a Haskell
// Double ("1.0", not Go's "1").
func metricsContentType(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.Clone(r.Context())
		r.Header.Del("Accept") // the text format, never protobuf or OpenMetrics
		r.Header.Del("Accept-Encoding")
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(rec.Code)
		_, _ = w.Write(haskellDoubles(rec.Body.Bytes())) // a scrape that went away needs no answer
	})
}

// haskellDoubles rewrites the integral sample values of a text-format
// exposition with a trailing ".0".
func haskellDoubles(text []byte) []byte {
	lines := strings.Split(string(text), "\n")
	for i, l := range lines {
		if l == "" || l[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(l, ' ')
		if v := l[sp+1:]; sp >= 0 && strings.Trim(v, "-0123456789") == "" && v != "" {
			lines[i] = l + ".0"
		}
	}
	return []byte(strings.Join(lines, "\n"))
}

// listenUnix opens a unix socket with the given permissions, replacing a
// stale socket file.
func listenUnix(path string, mode uint32) (net.Listener, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, os.FileMode(mode)); err != nil {
		_ = l.Close() // the chmod error is the one to report
		return nil, err
	}
	return l, nil
}
