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
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pgrest/pgrest/apierr"
	"github.com/pgrest/pgrest/cache"
	"github.com/pgrest/pgrest/listener"
	"github.com/pgrest/pgrest/planner"
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
	log            zerolog.Logger
	pool           *pgxpool.Pool
	holder         *cache.Holder
	planner        *planner.Memo
	schema         *listener.Manager
	exec           *executor.Executor

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
	pcfg, err := pgxpool.ParseConfig(cfg.DBURI)
	if err != nil {
		return nil, fmt.Errorf("invalid db-uri: %w", err)
	}
	pcfg.MaxConns = int32(cfg.DBPool)
	pcfg.MinConns = 0
	pcfg.MaxConnLifetime = cfg.DBPoolMaxLifetime
	pcfg.MaxConnIdleTime = cfg.DBPoolMaxIdletime
	if _, set := pcfg.ConnConfig.RuntimeParams["application_name"]; !set {
		// a fallback, as PostgREST's: an application_name in db-uri wins
		pcfg.ConnConfig.RuntimeParams["application_name"] = "PostgREST " + VersionString()
	}
	if !cfg.DBPreparedStatements {
		pcfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	}
	exec := executor.New(cfg.DBPoolAcquisitionTimeout, cfg.DBPreparedStatements)
	pcfg.BeforeClose = exec.Forget
	pool, err := pgxpool.NewWithConfig(context.Background(), pcfg)
	if err != nil {
		return nil, fmt.Errorf("creating pool: %w", err)
	}
	exec.SetPool(pool)
	exec.Observe = func(msg string) { log.Debug().Msg(msg) }
	a := &App{
		log:     log,
		pool:    pool,
		holder:  cache.NewHolder(),
		planner: planner.New(cfg.PlanCacheSize),
		exec:    exec,
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
		ConnString:     cfg.DBURI,
		Schemas:        cfg.DBSchemas,
		Channel:        cfg.DBChannel,
		ChannelEnabled: cfg.DBChannelEnabled,
		PollInterval:   cfg.SchemaPollInterval,
		QuerySleep:     internalSleep("PGRST_INTERNAL_SCHEMA_CACHE_QUERY_SLEEP"),
		LoadSleep:      internalSleep("PGRST_INTERNAL_SCHEMA_CACHE_LOAD_SLEEP"),
		Log:            log,
		OnConfigReload: func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := a.ReloadConfig(ctx); err != nil {
				log.Log().Msg("Failed reloading config: " + err.Error())
			}
		},
	}, a.holder, pool)
	a.baseConfig = cfg.Clone()
	a.httpSrv = newHTTPServer(a.Handler(), cfg, a.requests)
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
}

// Handler is the API router.
func (a *App) Handler() http.Handler {
	r := mux.NewRouter()
	r.SkipClean(true)
	r.UseEncodedPath()
	api := http.HandlerFunc(a.serveAPI)
	r.Path("/").Handler(api)
	r.Path("/rpc/{function}").Handler(api)
	r.Path("/{resource}").Handler(api)
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, apierr.New(http.StatusNotFound, "PGRST125", "Invalid path specified in request URL", "", ""))
	})
	// limitRequests is outermost: http.MaxBytesReader must see the server's
	// own ResponseWriter to close the connection of an oversized body.
	return a.limitRequests(serverHeader(a.logRequests(a.cors(r))))
}

// ServerName is the Server header: PostgREST sends postgrest/<version>;
// pgrest names the PostgREST version it follows, then itself.
func ServerName() string { return "postgrest/" + VersionString() }

// VersionString is the version PostgREST prints where it prints its own
// ("16.2 (pgrest 0.1.0)"): in the Server header, application_name and
// the start-up line.
func VersionString() string { return "16.2 (pgrest " + Version + ")" }

func serverHeader(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", ServerName())
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
	if a.cancel != nil {
		a.cancel()
		<-a.done
	}
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
}

// config is the current configuration, for paths outside a request.
func (a *App) config() *config.Config { return a.current.Load().cfg }

type derivedKey struct{}

// withDerived pins the current configuration to the request, once, at the
// outermost handler; everything below reads it with derivedFor.
func (a *App) withDerived(r *http.Request) (*http.Request, *derived) {
	d := a.current.Load()
	return r.WithContext(context.WithValue(r.Context(), derivedKey{}, d)), d
}

// derivedFor is the configuration pinned to r (the current one for a
// request that did not pass through withDerived, e.g. in unit tests).
func (a *App) derivedFor(r *http.Request) *derived {
	if d, ok := r.Context().Value(derivedKey{}).(*derived); ok {
		return d
	}
	return a.current.Load()
}

// internalError logs and counts a failure inside pgrest (never a client's
// mistake): every one shows in the log and in pgrest_internal_errors_total.
func (a *App) internalError(what string, err error) {
	a.internalErrors.Add(1)
	a.log.Error().Err(err).Msg(what)
}
