package server

import (
	"encoding/json"
	"net"
	"net/http"
	"strconv"

	"github.com/gorilla/mux"
)

// StartAdmin serves /live, /ready, /schema_cache and /metrics (references/admin_server) on
// admin-server-port when it is set.
func (a *App) StartAdmin() error {
	cfg := a.cfg.Load()
	if cfg.AdminServerPort == nil {
		return nil
	}
	host := cfg.AdminServerHost
	if host == "" {
		host = cfg.ServerHost
	}
	l, err := listenTCP(host, *cfg.AdminServerPort, false)
	if err != nil {
		return err
	}
	return a.ServeAdmin(l)
}

// ServeAdmin serves the admin endpoints on l in the background.
func (a *App) ServeAdmin(l net.Listener) error {
	r := mux.NewRouter()
	r.Path("/live").HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
	})
	r.Path("/ready").HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		// Behind: a load failed or the event log is ahead of the
		// snapshot; requests would see a stale API.
		if a.holder.Load() == nil || a.schema.Behind() || a.pool.Ping(req.Context()) != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	r.Path("/schema_cache").HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		snap := a.holder.Load()
		if snap == nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		b, err := snap.Dump()
		if err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", jsonType)
		w.Header().Set(HeaderSchemaVersion, strconv.FormatInt(snap.Version, 10))
		w.Write(b)
	})
	r.Path("/metrics").Handler(a.metrics())
	r.Path("/status").HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		st := a.schema.Stats()
		w.Header().Set("Content-Type", jsonType)
		json.NewEncoder(w).Encode(map[string]any{
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
		})
	})
	a.adminSrv = &http.Server{Handler: r}
	go a.adminSrv.Serve(l)
	return nil
}
