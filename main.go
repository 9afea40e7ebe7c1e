// Command pgrest serves a PostgreSQL database as a REST API, compatible with
// PostgREST v16. See README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pgrest/pgrest/cache"
	"github.com/pgrest/pgrest/embedpg"
	"github.com/pgrest/pgrest/migrations"
	"github.com/pgrest/pgrest/server"
	"github.com/pgrest/pgrest/server/config"
	"github.com/rs/zerolog"
)

const usage = `Usage: pgrest [OPTION] [CONFIG_FILE]
       pgrest demo
       pgrest migrate [CONFIG_FILE]

Serves a PostgreSQL database as a REST API (a drop-in replacement for PostgREST v16).

Commands:
  demo           start a throwaway local PostgreSQL with a demo schema and serve it on :3000
  migrate        install or upgrade pgrest's DDL event log and event triggers in the database

Options:
  -h, --help     show this help
  -v, --version  show the version
  -e, --example  show an example configuration file
  --dump-config  print the effective configuration and exit
  --dump-schema  print the schema cache as JSON and exit
  --load-schema-cache FILE
                 accepted for PostgREST compatibility: pgrest says it can't
                 use FILE and loads the schema cache from the database
  --ready        ask the running instance's admin server (admin-server-port or
                 admin-server-unix-socket of this configuration) whether it is
                 ready; exits 0 if so, else 1 (for container healthchecks)

Configuration comes from CONFIG_FILE, then PGRST_* environment variables.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	var path, mode, schemaFile string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch a {
		case "--load-schema-cache":
			if i+1 == len(args) {
				fmt.Fprintf(stderr, "pgrest: --load-schema-cache needs a file\n")
				return 1
			}
			i++
			schemaFile = args[i]
		case "-h", "--help":
			fmt.Fprint(stdout, usage)
			return 0
		case "-v", "--version":
			fmt.Fprintln(stdout, "pgrest "+server.Version+" (PostgREST 16 compatible)")
			return 0
		case "-e", "--example":
			fmt.Fprint(stdout, config.Example())
			return 0
		case "--dump-config", "--dump-schema", "--ready":
			mode = a
		case "demo", "migrate":
			if mode == "" && path == "" {
				mode = a
				continue
			}
			path = a
		default:
			if len(a) > 1 && a[0] == '-' {
				fmt.Fprintf(stderr, "pgrest: unknown option %s\n\n%s", a, usage)
				return 1
			}
			if path != "" {
				fmt.Fprintf(stderr, "pgrest: only one config file may be given\n")
				return 1
			}
			path = a
		}
	}
	if mode == "demo" {
		return runDemo(stdout, stderr)
	}
	cfg, err := config.Load(path, os.Environ())
	if err != nil {
		if mode == "--ready" && readyBadPort(path, err, stderr) {
			return 1
		}
		fmt.Fprintf(stderr, "pgrest: %v\n", err)
		return 1
	}
	switch mode {
	case "--dump-config":
		return dumpConfig(cfg, stdout, stderr)
	case "--dump-schema":
		return dumpSchema(cfg, stdout, stderr)
	case "--ready":
		return checkReady(cfg, stdout, stderr)
	case "migrate":
		return migrate(cfg, stdout, stderr)
	}
	// A reload re-reads the file (if any), the environment and the files
	// db-uri and jwt-secret refer to with @path.
	if schemaFile != "" {
		noteSchemaFile(schemaFile, stderr)
	}
	reload := func() (*config.Config, error) { return config.Load(path, os.Environ()) }
	return serve(cfg, reload, nil, stdout, stderr)
}

// noteSchemaFile answers --load-schema-cache: pgrest's snapshot holds more
// than v16's dump (view dependencies, computed fields), so it always loads
// the schema from the database, as v16 does when the file can't be read;
// the line says so instead of ignoring the flag silently.
func noteSchemaFile(file string, stderr io.Writer) {
	why := "pgrest builds its schema cache from the database only"
	if _, err := os.Stat(file); err != nil {
		why = err.Error()
	}
	fmt.Fprintf(stderr, "%s: Could not load the schema cache from %s (%s). Loading it from the database.\n",
		time.Now().Format("02/Jan/2006:15:04:05 -0700"), file, why)
}

// sigs receives the signals pgrest handles, from catchSignals on: a signal
// that arrives while pgrest is still starting waits there instead of
// killing the process before it can clean up.
var (
	sigs     = make(chan os.Signal, 4)
	sigsOnce sync.Once
)

func catchSignals() {
	sigsOnce.Do(func() {
		signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1, syscall.SIGUSR2)
	})
}

// serve runs until SIGTERM/SIGINT. ready, when set, is called once listening.
func serve(cfg *config.Config, reload func() (*config.Config, error), ready func(addr net.Addr), stdout, stderr io.Writer) int {
	catchSignals()
	tuneGC()
	log, setLevel := server.NewLogger(cfg, stderr)
	log.Log().Msg("Starting PostgREST " + server.VersionString() + "...")
	server.WarnDeprecated(log, cfg)
	app, err := server.New(cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "pgrest: %v\n", err)
		return 1
	}
	app.OnLogLevel(setLevel)
	if cfg.LogFormat != "json" {
		app.SetAccessLog(stdout) // PostgREST writes its request log to stdout
	}
	if reload != nil { // the demo's configuration is made in code: it stands
		app.SetConfigSource(reload)
	}
	l, err := server.Listen(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "pgrest: listening: %v\n", err)
		return 1
	}
	// The admin server's line comes first, as in PostgREST.
	if err := app.StartAdmin(); err != nil {
		fmt.Fprintf(stderr, "pgrest: admin server: %v\n", err)
		return 1
	}
	log.Log().Msg("API server listening on " + server.DescribeAddr(l.Addr()))
	app.Start()
	if ready != nil {
		ready(l.Addr())
	}

	defer signal.Stop(sigs)
	served := make(chan error, 1)
	go func() { served <- app.Serve(l) }()
	for {
		select {
		case ferr := <-app.Fatal():
			// Logged where it happened; shutting down is all that is left.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := app.Shutdown(ctx); err != nil {
				log.Error().Err(err).AnErr("cause", ferr).Msg("shutdown after a fatal error")
			}
			cancel()
			return 1
		case err := <-served:
			if err != nil {
				log.Error().Err(err).Msg("server stopped")
				return 1
			}
			return 0
		case s := <-sigs:
			switch s {
			case syscall.SIGUSR1:
				app.FlushPool()
				go func() {
					if err := app.Schema().ReloadNow(context.Background()); err != nil {
						log.Error().Err(err).Msg("schema reload failed")
					}
				}()
			case syscall.SIGUSR2:
				go func() {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					if err := app.ReloadConfig(ctx); err != nil {
						log.Log().Msg("Failed reloading config: " + err.Error())
					}
				}()
			default:
				log.Log().Msg("Received termination unix signal " + signalName(s))
				ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
				err := app.Shutdown(ctx)
				cancel()
				if err != nil {
					log.Error().Err(err).Msg("shutdown")
					return 1
				}
				return 0
			}
		}
	}
}

func dumpSchema(cfg *config.Config, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, cfg.DBURI)
	if err != nil {
		fmt.Fprintf(stderr, "pgrest: connecting: %v\n", err)
		return 1
	}
	defer conn.Close(ctx)
	snap, err := cache.Load(ctx, conn, cfg.DBSchemas)
	if err != nil {
		fmt.Fprintf(stderr, "pgrest: loading schema: %v\n", err)
		return 1
	}
	if _, err := fmt.Fprintf(stdout, "%s\n", server.SchemaCacheJSON(snap)); err != nil {
		fmt.Fprintf(stderr, "pgrest: writing the schema: %v\n", err)
		return 1
	}
	return 0
}

func migrate(cfg *config.Config, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := connectRetrying(ctx, cfg.DBURI, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "pgrest migrate: connecting: %v\n", err)
		return 1
	}
	defer conn.Close(ctx)
	applied, err := migrations.Apply(ctx, conn, cfg.DBChannel)
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	if cfg.RealtimeEnabled {
		created, err := migrations.Publication(ctx, conn, cfg.RealtimeSlotPrefix, cfg.DBSchemas)
		if err != nil {
			fmt.Fprintf(stderr, "pgrest migrate: realtime publication: %v\n", err)
			return 1
		}
		if created {
			applied = append(applied, "publication "+cfg.RealtimeSlotPrefix+" (realtime)")
		}
	}
	if len(applied) == 0 {
		fmt.Fprintln(stdout, "pgrest migrate: already up to date")
	}
	for _, m := range applied {
		fmt.Fprintln(stdout, "pgrest migrate: applied "+m)
	}
	return 0
}

// connectRetrying connects, retrying while the server is not accepting
// connections yet (a container started next to PostgreSQL runs before
// PostgreSQL listens); an authentication or missing-database error is final.
func connectRetrying(ctx context.Context, uri string, stderr io.Writer) (*pgx.Conn, error) {
	delay := 250 * time.Millisecond
	for {
		conn, err := pgx.Connect(ctx, uri)
		if err == nil || !retryableConnectError(err) {
			return conn, err
		}
		fmt.Fprintf(stderr, "pgrest migrate: database not reachable yet (%v); retrying in %s\n", err, delay)
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(delay):
		}
		delay = min(2*delay, 4*time.Second)
	}
}

// retryableConnectError tells a server that is not up yet (refused, reset,
// starting up, shutting down) from one that answered no.
func retryableConnectError(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// 57P03 cannot_connect_now: starting up or shutting down.
		return pgErr.Code == "57P03"
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ENOENT)
}

// runDemo serves the demo schema from a throwaway cluster (the README's
// first command). PGRST_* variables still apply, e.g. PGRST_SERVER_PORT.
func runDemo(stdout, stderr io.Writer) int {
	catchSignals() // before the cluster exists, so a stop always removes it
	dieWithParent()
	ctx := context.Background()
	fmt.Fprintln(stdout, "pgrest demo: starting a throwaway PostgreSQL…")
	// wal_level=logical: the demo serves realtime subscriptions too.
	pg, err := embedpg.Start(ctx, map[string]string{"wal_level": "logical"})
	if errors.Is(err, embedpg.ErrNoBinaries) {
		fmt.Fprintf(stderr, "pgrest demo: %v\n", err)
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "pgrest demo: starting PostgreSQL: %v\n", err)
		return 1
	}
	defer pg.Remove()
	if err = pg.LoadDemo(ctx); err != nil {
		fmt.Fprintf(stderr, "pgrest demo: loading the demo schema: %v\n", err)
		return 1
	}
	cfg, err := config.Load("", os.Environ())
	if err != nil {
		fmt.Fprintf(stderr, "pgrest: %v\n", err)
		return 1
	}
	cfg.DBSchemas = []string{"api"}
	// Off by default (a PostgREST answers text/event-stream with 406); the
	// demo shows it, so migrate creates its publication too.
	cfg.RealtimeEnabled = true
	cfg.DBURI = pg.URI("postgres", embedpg.DemoDB)
	if code := migrate(cfg, io.Discard, stderr); code != 0 {
		return code
	}
	if err = pg.Exec(ctx, embedpg.DemoDB, "ALTER ROLE authenticator REPLICATION"); err != nil {
		fmt.Fprintf(stderr, "pgrest demo: %v\n", err)
		return 1
	}
	cfg.DBURI = pg.URI("authenticator", embedpg.DemoDB)
	cfg.DBAnonRole = "web_anon"
	if os.Getenv("PGRST_LOG_LEVEL") == "" {
		cfg.LogLevel = "info"
	}
	ready := func(addr net.Addr) {
		port := strconv.Itoa(cfg.ServerPort)
		if ta, ok := addr.(*net.TCPAddr); ok {
			port = strconv.Itoa(ta.Port)
		}
		url := "http://localhost:" + port
		fmt.Fprintf(stdout, `
pgrest demo is serving %[1]s (PostgreSQL on 127.0.0.1:%[2]d, database %[3]s,
in %[4]s, removed on exit)

Try:
  curl '%[1]s/books?select=title,year&order=year.desc&limit=3'
  curl '%[1]s/authors?select=name,books(title)&books.year=gte.1970'
  curl -g -H 'Prefer: count=exact' '%[1]s/books?tags=cs.{scifi}'
  curl '%[1]s/rpc/search_books?q=dark&select=title,authors(name)'
  curl '%[1]s/'                      # the OpenAPI document
  curl -H 'Content-Type: application/vnd.pgrest.batch+json' '%[1]s/' -d '[{"method": "GET", "path": "/authors?select=id&name=like.Octavia*"}, {"method": "GET", "path": "/books?select=title&author_id=eq.${/0/body/0/id}"}]'

Watch changes live (Server-Sent Events), then change a row as postgres:
  curl -N -H 'Accept: text/event-stream' '%[1]s/books?select=id,title,author:authors(name)&year=gte.1900'

Press Ctrl-C to stop.
`, url, pg.Port, embedpg.DemoDB, pg.Dir)
	}
	return serve(cfg, nil, ready, stdout, stderr)
}

func signalName(s os.Signal) string {
	if s == syscall.SIGINT {
		return "SIGINT"
	}
	return "SIGTERM"
}

// readyBadPort is --ready with an admin-server-port that is no port: v16
// reports the URL it could not build, "ERROR: invalid url - ...". The rest
// of the configuration (for the host) is read with the port left unset.
func readyBadPort(path string, err error, stderr io.Writer) bool {
	var ce *config.Error
	if !errors.As(err, &ce) || ce.Key != "admin-server-port" || ce.Msg != "" {
		return false
	}
	cfg, err := config.Load(path, append(os.Environ(), "PGRST_ADMIN_SERVER_PORT="))
	if err != nil {
		return false
	}
	host := server.AdminHost(cfg)
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	fmt.Fprintf(stderr, "ERROR: invalid url - http://%s:%s/ready\n", host, ce.Value)
	return true
}

// checkReady is PostgREST's --ready: GET /ready on this configuration's
// admin server; "OK: <url>" on stdout and exit 0 when it answers 2xx, an
// "ERROR: ..." line on stderr and exit 1 otherwise. pgrest also reaches an
// admin server on admin-server-unix-socket.
func checkReady(cfg *config.Config, stdout, stderr io.Writer) int {
	client := &http.Client{Timeout: 5 * time.Second}
	var url string
	switch {
	case cfg.AdminServerUnixSocket != "":
		sock := cfg.AdminServerUnixSocket
		client.Transport = &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}}
		url = "http://localhost/ready"
	case cfg.AdminServerPort == nil:
		fmt.Fprintln(stderr, "ERROR: Admin server is not running. Please check admin-server-port config.")
		return 1
	default:
		host := server.AdminHost(cfg)
		switch host {
		case "*", "*4", "!4", "*6", "!6":
			fmt.Fprintf(stderr, "ERROR: The `--ready` flag cannot be used when server-host is configured as %q. Please update your server-host config to \"localhost\".\n", host)
			return 1
		}
		url = "http://" + net.JoinHostPort(host, strconv.Itoa(*cfg.AdminServerPort)) + "/ready"
	}
	shown := url
	if cfg.AdminServerUnixSocket != "" {
		shown = "unix:" + cfg.AdminServerUnixSocket + ":/ready"
	}
	resp, err := client.Get(url)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
			fmt.Fprintln(stderr, "ERROR: connection refused to "+shown)
		} else {
			fmt.Fprintf(stderr, "ERROR: %s: %v\n", shown, err)
		}
		return 1
	}
	_ = resp.Body.Close() // only the status matters
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		fmt.Fprintf(stderr, "ERROR: %s (%s)\n", shown, resp.Status)
		return 1
	}
	fmt.Fprintln(stdout, "OK: "+shown)
	return 0
}

// dumpConfig prints the effective configuration; like PostgREST it applies
// the in-database configuration (db-config, db-pre-config) when the
// database answers, else it prints the file and environment's with a note.
func dumpConfig(cfg *config.Config, stdout, stderr io.Writer) int {
	if cfg.DBConfig || cfg.DBPreConfig != "" {
		if dbCfg, err := databaseConfig(cfg); err == nil {
			cfg = dbCfg
		} else if ce := (*config.Error)(nil); errors.As(err, &ce) {
			fmt.Fprintf(stderr, "pgrest: %v\n", err)
			return 1
		} else {
			fmt.Fprintf(stderr, "pgrest: in-database configuration not read: %v\n", err)
		}
	}
	fmt.Fprint(stdout, cfg.Dump())
	return 0
}

func databaseConfig(cfg *config.Config) (*config.Config, error) {
	app, err := server.New(cfg, zerolog.Nop())
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	defer func() { _ = app.Shutdown(ctx) }() // a probe: nothing was served
	return app.DatabaseConfig(ctx)
}
