// Package server is pgrest's HTTP edge: it wires configuration, the pool,
// the schema cache, the planner and authentication together and serves the
// API and the admin endpoints.
package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pgrest/pgrest/cache"
	"github.com/pgrest/pgrest/listener"
	"github.com/pgrest/pgrest/planner"
	"github.com/pgrest/pgrest/server/apierr"
	"github.com/pgrest/pgrest/server/auth"
	"github.com/pgrest/pgrest/server/config"
	"github.com/rs/zerolog"
)

// Version is set by main from the build.
var Version = "0.1.0"

// App is one running pgrest: pool, schema cache, planner and HTTP handlers.
type App struct {
	cfg     atomic.Pointer[config.Config]
	auth    atomic.Pointer[auth.Verifier]
	log     zerolog.Logger
	pool    *pgxpool.Pool
	holder  *cache.Holder
	planner *planner.Memo
	schema  *listener.Manager
	exec    *executor

	preRequest string
	// baseConfig is the file and environment configuration the in-database
	// one is applied over; configSource re-reads it on a reload.
	baseConfig   *config.Config
	configSource func() (*config.Config, error)
	cancel       context.CancelFunc
	done         chan struct{}
	httpSrv      *http.Server
	adminSrv     *http.Server
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
	pcfg.ConnConfig.RuntimeParams["application_name"] = "pgrest " + Version
	if !cfg.DBPreparedStatements {
		pcfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	}
	exec := &executor{acquireTimeout: cfg.DBPoolAcquisitionTimeout, cached: cfg.DBPreparedStatements}
	pcfg.BeforeClose = exec.prepared.forget
	pool, err := pgxpool.NewWithConfig(context.Background(), pcfg)
	if err != nil {
		return nil, fmt.Errorf("creating pool: %w", err)
	}
	exec.pool = pool
	a := &App{
		log:     log,
		pool:    pool,
		holder:  cache.NewHolder(),
		planner: planner.New(cfg.PlanCacheSize),
		exec:    exec,
		done:    make(chan struct{}),
	}
	if err := a.SetConfig(cfg); err != nil {
		pool.Close()
		return nil, err
	}
	a.schema = listener.New(listener.Options{
		ConnString:     cfg.DBURI,
		Schemas:        cfg.DBSchemas,
		Channel:        cfg.DBChannel,
		ChannelEnabled: cfg.DBChannelEnabled,
		PollInterval:   cfg.SchemaPollInterval,
		Log:            log,
		OnConfigReload: func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := a.ReloadConfig(ctx); err != nil {
				log.Error().Err(err).Msg("config reload failed; keeping the current config")
			}
		},
	}, a.holder, pool)
	a.baseConfig = cfg.Clone()
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
	pre := ""
	if cfg.DBPreRequest != "" {
		pre = quoteQualified(cfg.DBPreRequest)
	}
	a.preRequest = pre
	a.auth.Store(v)
	a.cfg.Store(cfg)
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
		// The in-database configuration may name the schemas to load, so
		// it is read first; if the database is down, the file's stands.
		if cfg := a.cfg.Load(); cfg.DBConfig || cfg.DBPreConfig != "" {
			cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
			if err := a.ReloadConfig(cctx); err != nil {
				a.log.Warn().Err(err).Msg("in-database config not read; using the file and environment")
			}
			ccancel()
		}
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
	return a.logRequests(a.cors(r))
}

// Listen opens the API listener from server-unix-socket or server-host/port.
func Listen(cfg *config.Config) (net.Listener, error) {
	if cfg.ServerUnixSocket != "" {
		os.Remove(cfg.ServerUnixSocket)
		l, err := net.Listen("unix", cfg.ServerUnixSocket)
		if err != nil {
			return nil, err
		}
		if err := os.Chmod(cfg.ServerUnixSocket, os.FileMode(cfg.ServerUnixSocketMode)); err != nil {
			l.Close()
			return nil, err
		}
		return l, nil
	}
	return listenTCP(cfg.ServerHost, cfg.ServerPort, cfg.ServerReusePort)
}

func listenTCP(host string, port int, reuse bool) (net.Listener, error) {
	network, addr := "tcp", host
	switch host {
	case "!4", "*4":
		network, addr = "tcp4", "0.0.0.0"
	case "!6", "*6":
		network, addr = "tcp6", "::"
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
	a.httpSrv = &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 30 * time.Second}
	err := a.httpSrv.Serve(relativeTargets{l})
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting requests, lets in-flight ones finish (until ctx
// ends), then stops the listener and closes the pool.
func (a *App) Shutdown(ctx context.Context) error {
	var err error
	if a.httpSrv != nil {
		err = a.httpSrv.Shutdown(ctx)
	}
	if a.adminSrv != nil {
		a.adminSrv.Shutdown(ctx)
	}
	if a.cancel != nil {
		a.cancel()
		<-a.done
	}
	a.pool.Close()
	return err
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (a *App) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		lvl := zerolog.InfoLevel
		if sw.status >= 500 {
			lvl = zerolog.ErrorLevel
		} else if sw.status >= 400 {
			lvl = zerolog.WarnLevel
		}
		a.log.WithLevel(lvl).Str("method", r.Method).Str("path", r.URL.RequestURI()).
			Int("status", sw.status).Dur("duration", time.Since(start)).Msg("request")
	})
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
