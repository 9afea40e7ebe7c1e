// Package server is pgrest's HTTP edge: it wires configuration, the pool,
// the schema cache, the planner and authentication together and serves the
// API and the admin endpoints.
package server

import (
	"context"
	"errors"
	"fmt"
	"github.com/pgrest/pgrest/executor"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pgrest/pgrest/apierr"
	"github.com/pgrest/pgrest/cache"
	"github.com/pgrest/pgrest/listener"
	"github.com/pgrest/pgrest/planner"
	"github.com/pgrest/pgrest/realtime"
	"github.com/pgrest/pgrest/server/auth"
	"github.com/pgrest/pgrest/server/config"
	"github.com/rs/zerolog"
)

// Version is set by main from the build.
var Version = "0.1.0"

// App is one running pgrest: pool, schema cache, planner and HTTP handlers.
type App struct {
	// current is everything derived from the configuration, swapped whole
	// on a reload; a request reads it once (see derivedFor).
	current atomic.Pointer[derived]
	// roleSettings are the impersonable roles' own settings (rolesettings.go).
	roleSettings atomic.Pointer[roleSettings]
	// internalErrors counts failures inside pgrest (see internalError).
	internalErrors atomic.Int64
	// poolTimeoutLog spaces out the log lines of pool acquisition timeouts.
	poolTimeoutLog debouncer
	log            zerolog.Logger
	pool           *pgxpool.Pool
	holder         *cache.Holder
	planner        *planner.Memo
	schema         *listener.Manager
	exec           *executor.Executor
	realtime       *realtime.Hub
	// pools routes reads to replicas (pgrest-db-replica-uris) and counts
	// requests per pool.
	pools *replicaSet

	// baseConfig is the file and environment configuration the in-database
	// one is applied over; configSource re-reads it on a reload.
	baseConfig   *config.Config
	configSource func() (*config.Config, error)
	cancel       context.CancelFunc
	done         chan struct{}
	httpSrv      *http.Server
	// requests is the base context of every request; Shutdown cancels it
	// when the grace period ends, which cancels running statements.
	requests    context.Context
	endRequests context.CancelFunc
	adminSrv    *http.Server

	accessLog io.Writer                // PostgREST's request log lines; nil: the diagnostic log
	fatal     chan error               // an error pgrest cannot serve past (main exits 1)
	apiAddr   atomic.Pointer[net.Addr] // where the API listens, for the admin liveness probe

	setLogLevel func(string)
}

// New builds an App. It does not connect: the pool connects lazily and the
// listener retries the schema load until the database answers, so pgrest
// starts (and answers 503) even when PostgreSQL is down.
func New(cfg *config.Config, log zerolog.Logger) (*App, error) {
	pool, exec, err := newPool(cfg.DBURI, cfg, 0)
	if err != nil {
		return nil, fmt.Errorf("invalid db-uri: %w", err)
	}
	reps, err := newReplicaSet(cfg, log)
	if err != nil {
		pool.Close()
		return nil, err
	}
	// With replicas, every write answers with its commit's WAL position
	// (X-Pgrest-Lsn), which X-Pgrest-Min-Lsn hands back for read-your-writes.
	exec.TrackLSN(len(reps.list) > 0)
	exec.Observe = func(msg string) { log.Debug().Msg(msg) }
	a := &App{
		log:     log,
		pool:    pool,
		holder:  cache.NewHolder(),
		planner: planner.New(cfg.PlanCacheSize),
		exec:    exec,
		pools:   reps,
		done:    make(chan struct{}),
		fatal:   make(chan error, 1),
	}
	a.requests, a.endRequests = context.WithCancel(context.Background())
	if err := a.SetConfig(cfg); err != nil {
		pool.Close()
		return nil, err
	}
	exec.Observing = func() bool { return a.config().LogLevel == "debug" }
	a.schema = listener.New(listener.Options{
		ConnString:     listenURI(cfg),
		Schemas:        cfg.DBSchemas,
		Channel:        cfg.DBChannel,
		ChannelEnabled: cfg.DBChannelEnabled,
		PollInterval:   cfg.SchemaPollInterval,
		QuerySleep:     internalSleep("PGRST_INTERNAL_SCHEMA_CACHE_QUERY_SLEEP"),
		LoadSleep:      internalSleep("PGRST_INTERNAL_SCHEMA_CACHE_LOAD_SLEEP"),
		Log:            log,
		TrackLSN:       len(reps.list) > 0,
		OnConfigReload: func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := a.ReloadConfig(ctx); err != nil {
				log.Log().Msg("Failed reloading config: " + err.Error())
			}
		},
	}, a.holder, pool)
	a.baseConfig = cfg.Clone()
	rc := realtimeConfig(cfg)
	rc.Log = log
	a.realtime = realtime.New(rc, a.holder, a.planner, exec)
	a.httpSrv = newHTTPServer(a.Handler(), cfg, a.requests)
	// Streams never end by themselves: they are ended first, so that
	// shutdown waits only for ordinary requests.
	a.httpSrv.RegisterOnShutdown(a.realtime.Close)
	return a, nil
}

// SetConfig swaps the configuration that requests read (reload config).
func (a *App) SetConfig(cfg *config.Config) error {
	v, err := auth.New(auth.Options{
		Secret:          cfg.JWTSecret,
		SecretIsBase64:  cfg.JWTSecretIsBase64,
		Audience:        cfg.JWTAud,
		RoleClaimKey:    cfg.JWTRoleClaimKey,
		AnonRole:        cfg.DBAnonRole,
		CacheMaxEntries: cfg.JWTCacheMaxEntries,
	})
	if err != nil {
		return err
	}
	a.current.Store(&derived{cfg: cfg, auth: v})
	if a.setLogLevel != nil {
		a.setLogLevel(cfg.LogLevel)
	}
	return nil
}

// quoteQualified quotes "schema.fn" or "fn" as identifiers.
func quoteQualified(name string) string {
	if i := strings.IndexByte(name, '.'); i > 0 {
		return pgx.Identifier{name[:i], name[i+1:]}.Sanitize()
	}
	return pgx.Identifier{name}.Sanitize()
}

// Holder exposes the schema cache (admin endpoints, tests).
func (a *App) Holder() *cache.Holder { return a.holder }

// Planner exposes the plan memo (metrics, tests).
func (a *App) Planner() *planner.Memo { return a.planner }

// Schema exposes the schema manager (signals, tests).
func (a *App) Schema() *listener.Manager { return a.schema }

// Start runs the schema listener in the background.
func (a *App) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	go func() {
		defer close(a.done)
		a.schema.Listen(ctx) // its failures are logged even while the pool cannot connect
		if !a.connect(ctx) {
			return
		}
		// The in-database configuration may name the schemas to load, so
		// it is read first; if the database is down, the file's stands.
		if cfg := a.config(); cfg.DBConfig || cfg.DBPreConfig != "" {
			cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
			if err := a.loadConfig(cctx); err != nil {
				a.log.Log().Msg("Failed to query database settings for the config parameters." + dbErrorText(err))
			}
			ccancel()
		}
		rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
		if err := a.loadRoleSettings(rctx); err != nil {
			a.log.Log().Msg("Failed to query the role settings. " + dbErrorText(err))
		}
		rcancel()
		a.schema.Run(ctx)
	}()
	a.pools.start(ctx, a.pool, a.config)
}

// Handler is the API router.
func (a *App) Handler() http.Handler {
	r := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !apiPath(r.URL.EscapedPath()) {
			writeError(w, apierr.InvalidPath())
			return
		}
		a.serveAPI(w, r)
	})
	// limitRequests is outermost: http.MaxBytesReader must see the server's
	// own ResponseWriter to close the connection of an oversized body.
	return a.limitRequests(serverHeader(a.logRequests(a.cors(r))))
}

// apiPath: the paths the API serves, "/", "/{resource}" and
// "/rpc/{function}", matched on the escaped path (an encoded slash stays
// inside its segment) and never cleaned. A router would copy the request
// twice to hand on names the parser reads again anyway.
func apiPath(p string) bool {
	if p == "/" {
		return true
	}
	rest, ok := strings.CutPrefix(p, "/")
	if !ok || rest == "" {
		return false
	}
	if !strings.Contains(rest, "/") {
		return true
	}
	fn, ok := strings.CutPrefix(rest, "rpc/")
	return ok && fn != "" && !strings.Contains(fn, "/")
}

// ServerName is the Server header: PostgREST sends postgrest/<version>;
// pgrest names the PostgREST version it follows, then itself.
func ServerName() string { return "postgrest/" + VersionString() }

// VersionString is the version PostgREST prints where it prints its own
// ("16.2 (pgrest 0.1.0)"): in the Server header, application_name and
// the start-up line.
func VersionString() string { return "16.2 (pgrest " + Version + ")" }

func serverHeader(next http.Handler) http.Handler {
	server := []string{ServerName()} // shared: net/http only reads it
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Server"] = server
		next.ServeHTTP(w, r)
	})
}

// Listen opens the API listener from server-unix-socket or server-host/port.
func Listen(cfg *config.Config) (net.Listener, error) {
	if cfg.ServerUnixSocket != "" {
		return listenUnix(cfg.ServerUnixSocket, cfg.ServerUnixSocketMode)
	}
	return listenTCP(cfg.ServerHost, cfg.ServerPort, cfg.ServerReusePort)
}

func listenTCP(host string, port int, reuse bool) (net.Listener, error) {
	network, addr := "tcp", host
	switch host {
	case "!4", "*4":
		network, addr = "tcp4", "0.0.0.0"
	case "!6": // IPv6 only
		network, addr = "tcp6", "::"
	case "*6": // IPv6 preferred, IPv4 too (a dual-stack socket, as warp's)
		addr = "::"
	case "*":
		addr = ""
	}
	lc := net.ListenConfig{}
	if reuse {
		lc.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, 0xf /* SO_REUSEPORT */, 1)
			})
			if err != nil {
				return err
			}
			return serr
		}
	}
	return lc.Listen(context.Background(), network, net.JoinHostPort(addr, strconv.Itoa(port)))
}

// Serve serves the API on l until Shutdown.
func (a *App) Serve(l net.Listener) error {
	addr := l.Addr()
	a.apiAddr.Store(&addr)
	err := a.httpSrv.Serve(relativeTargets{l})
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting requests, lets in-flight ones finish (until ctx
// ends), then stops the listener and closes the pool.
func (a *App) Shutdown(ctx context.Context) error {
	err := a.httpSrv.Shutdown(ctx)
	if err != nil {
		// The grace period is over: cancel what still runs (pgx sends
		// PostgreSQL a cancel request) and drop the connections.
		a.log.Error().Err(err).Msg("shutdown grace period over; cancelling in-flight requests")
		a.endRequests()
		if cerr := a.httpSrv.Close(); cerr != nil {
			a.log.Error().Err(cerr).Msg("closing the API server")
		}
	}
	a.endRequests()
	if a.adminSrv != nil {
		if aerr := a.adminSrv.Shutdown(ctx); aerr != nil {
			_ = a.adminSrv.Close() // past the grace period: drop what is left
		}
	}
	a.realtime.Close()
	if a.cancel != nil {
		a.cancel()
		<-a.done
	}
	a.pools.close()
	a.pool.Close()
	return err
}

// LogLevel maps PostgREST's log-level names to zerolog's. crit maps to
// FatalLevel, which only WithLevel writes (it never exits the process).
func LogLevel(name string) zerolog.Level {
	switch name {
	case "crit":
		return zerolog.FatalLevel
	case "warn":
		return zerolog.WarnLevel
	case "info":
		return zerolog.InfoLevel
	case "debug":
		return zerolog.DebugLevel
	}
	return zerolog.ErrorLevel
}

// derived is what one configuration yields: the configuration and the JWT
// verifier built from it. They are swapped together, so a request never
// sees the secret of one configuration with the role claim of another.
type derived struct {
	cfg  *config.Config
	auth *auth.Verifier
	// searchPaths: schema → the search_path requests on it run with.
	searchPaths sync.Map
}

// searchPath is the request's search_path, built once per schema.
func (d *derived) searchPath(schema string) string {
	if p, ok := d.searchPaths.Load(schema); ok {
		return p.(string)
	}
	p := searchPath(schema, d.cfg.DBExtraSearchPath)
	d.searchPaths.Store(schema, p)
	return p
}

// config is the current configuration, for paths outside a request.
func (a *App) config() *config.Config { return a.current.Load().cfg }

type stateKey struct{}

// reqState is what the edge keeps per request, in one context value (each
// context layer copies the request): the configuration pinned to it and
// the database role and statements, for the request log.
type reqState struct {
	d    *derived
	role string
	// tx records the statements log-query shows once the status is known.
	tx *executor.TxContext
}

// withDerived pins the current configuration to the request, once, at the
// outermost handler; everything below reads it with derivedFor.
func (a *App) withDerived(r *http.Request) (*http.Request, *derived) {
	st := &reqState{d: a.current.Load()}
	return r.WithContext(context.WithValue(r.Context(), stateKey{}, st)), st.d
}

func stateOf(r *http.Request) *reqState {
	st, _ := r.Context().Value(stateKey{}).(*reqState)
	return st
}

// derivedFor is the configuration pinned to r (the current one for a
// request that did not pass through withDerived, e.g. in unit tests).
func (a *App) derivedFor(r *http.Request) *derived {
	if st := stateOf(r); st != nil {
		return st.d
	}
	return a.current.Load()
}

// internalError logs and counts a failure inside pgrest (never a client's
// mistake): every one shows in the log and in pgrest_internal_errors_total.
func (a *App) internalError(what string, err error) {
	a.internalErrors.Add(1)
	a.log.Error().Err(err).Msg(what)
}
