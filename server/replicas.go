package server

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pgrest/pgrest/apierr"
	"github.com/pgrest/pgrest/cache"
	"github.com/pgrest/pgrest/executor"
	"github.com/pgrest/pgrest/migrations"
	"github.com/pgrest/pgrest/planner"
	"github.com/pgrest/pgrest/request"
	"github.com/pgrest/pgrest/server/config"
	"github.com/rs/zerolog"
)

// Read-your-writes headers (pgrest-only).
const (
	// HeaderLSN carries the WAL position of a write's commit.
	HeaderLSN = "X-Pgrest-Lsn"
	// HeaderMinLSN asks for a read that sees the WAL up to that position.
	HeaderMinLSN = "X-Pgrest-Min-Lsn"
)

// Why a replicable read ran on the primary (pgrest_replica_fallbacks_total).
const (
	fallbackDown   = "down"   // no replica usable (down or lagging past pgrest-replica-max-lag)
	fallbackBehind = "behind" // none has replayed the request's schema or X-Pgrest-Min-Lsn
	fallbackError  = "error"  // the replica failed before answering; the read ran again
)

var fallbackReasons = []string{fallbackDown, fallbackBehind, fallbackError}

// replayLSNSQL is how far a server has replayed the primary's WAL; a
// server that is not a standby (promoted, or the primary itself) has all
// of its own WAL.
var replayLSNSQL = cache.LSNQuery(`CASE WHEN pg_is_in_recovery() THEN coalesce(pg_last_wal_replay_lsn(), '0/0')
	ELSE pg_current_wal_insert_lsn() END`)

var walInsertSQL = cache.LSNQuery("pg_current_wal_insert_lsn()")

// poolStats count the requests a pool ran and those that failed.
type poolStats struct{ requests, errors atomic.Int64 }

// count records a request; errors are the pool's failures (5xx), not the
// client's mistakes a pool answers correctly.
func (s *poolStats) count(err error) {
	s.requests.Add(1)
	if err != nil && executor.ToAPIError(err, true).Status >= 500 {
		s.errors.Add(1)
	}
}

// replica is one read replica: its pool, its executor and what the
// health checks last saw.
type replica struct {
	name  string
	pool  *pgxpool.Pool
	exec  *executor.Executor
	stats poolStats
	// usable: reachable and not lagging past pgrest-replica-max-lag.
	usable atomic.Bool
	replay atomic.Uint64 // cache.LSN replayed, as last seen
	// events is the newest DDL event id the replica's own copy of the
	// event log shows: it has the schema of every snapshot up to it.
	events   atomic.Int64
	lagMilli atomic.Int64
	lagBytes atomic.Int64
	state    atomic.Value // string: "up", "down: ...", "lagging": for logs on change
}

// replicaSet is the primary's request counters and the read replicas
// with their health checks.
type replicaSet struct {
	list      []*replica
	next      atomic.Uint64 // round-robin start
	primary   poolStats
	fallbacks map[string]*atomic.Int64
	kick      chan struct{}
	cfg       func() *config.Config
	log       zerolog.Logger

	// samples of the primary's WAL position over time (checker only):
	// a replica's lag is the age of the oldest position it lacks.
	samples []walSample
}

type walSample struct {
	at  time.Time
	lsn cache.LSN
}

// newPool makes a pool with the request settings of cfg on uri, and the
// executor that runs plans on it. connectTimeout, when above 0, bounds a
// connection attempt unless uri sets connect_timeout.
func newPool(uri string, cfg *config.Config, connectTimeout time.Duration) (*pgxpool.Pool, *executor.Executor, error) {
	pcfg, err := pgxpool.ParseConfig(uri)
	if err != nil {
		return nil, nil, err
	}
	if pcfg.ConnConfig.ConnectTimeout == 0 {
		pcfg.ConnConfig.ConnectTimeout = connectTimeout
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
		return nil, nil, err
	}
	exec.SetPool(pool)
	return pool, exec, nil
}

// replicaConnectTimeout: a replica that does not answer soon is treated as
// down (the read goes to the primary) rather than waited for.
const replicaConnectTimeout = 2 * time.Second

func newReplicaSet(cfg *config.Config, log zerolog.Logger) (*replicaSet, error) {
	rs := &replicaSet{fallbacks: map[string]*atomic.Int64{}, kick: make(chan struct{}, 1), log: log}
	for _, r := range fallbackReasons {
		rs.fallbacks[r] = &atomic.Int64{}
	}
	for i, uri := range cfg.ReplicaURIs {
		pool, exec, err := newPool(uri, cfg, replicaConnectTimeout)
		if err != nil {
			rs.close()
			return nil, fmt.Errorf("invalid pgrest-db-replica-uris entry %d: %w", i+1, err)
		}
		rep := &replica{name: "replica" + strconv.Itoa(i+1), pool: pool, exec: exec}
		rep.state.Store("starting")
		rs.list = append(rs.list, rep)
	}
	return rs, nil
}

// listenURI is where the schema listener holds its LISTEN session.
func listenURI(cfg *config.Config) string {
	if cfg.ListenURI != "" {
		return cfg.ListenURI
	}
	return cfg.DBURI
}

func (rs *replicaSet) close() {
	for _, r := range rs.list {
		r.pool.Close()
	}
}

// replicable: a read that a standby can answer exactly as the primary
// would. GET/HEAD on tables and views, and calls by GET/HEAD of STABLE or
// IMMUTABLE functions; a VOLATILE function may have effects a read-only
// transaction allows (advisory locks, sequences of temp tables), so it
// stays on the primary like every other request.
func replicable(req *request.Request, plan *planner.Plan) bool {
	if req.Method != http.MethodGet && req.Method != http.MethodHead || !plan.ReadOnly {
		return false
	}
	return req.Action == request.ActRead || req.Action == request.ActInvoke && !plan.Volatile
}

// run executes a plan on its pool: a replicable read on a replica that
// has replayed the request's schema and X-Pgrest-Min-Lsn, everything else
// (and every read no replica can take) on the primary. A write's response
// carries the WAL position of its commit.
func (a *App) run(w http.ResponseWriter, r *http.Request, req *request.Request, snap *cache.Snapshot,
	plan *planner.Plan, tc *executor.TxContext) (*executor.Result, error) {
	rs := a.pools
	// As in PostgREST, a client that goes away does not cancel its
	// statement (shutdown past its grace period does).
	sctx, done := a.statementContext(r)
	defer done()
	if len(rs.list) > 0 && replicable(req, plan) {
		min, aerr := minLSN(r)
		if aerr != nil {
			return nil, aerr
		}
		cfg := a.derivedFor(r).cfg
		need := want{version: snap.Version, schema: snap.LSN.RecordEnd(), min: min}
		if rep := rs.choose(r.Context(), need, cfg.ReplicaWaitTimeout); rep != nil {
			res, err := rep.exec.Run(sctx, plan, tc)
			rep.stats.count(err)
			if err == nil || (res != nil && res.Delivered) || !executor.Retryable(err) || r.Context().Err() != nil {
				return res, err
			}
			// Nothing was sent: the read runs again on the primary, and the
			// replica gets no more requests until a check finds it well.
			rs.markDown(rep, err)
			rs.fallbacks[fallbackError].Add(1)
		}
	}
	res, err := a.exec.Run(sctx, plan, tc)
	rs.primary.count(err)
	if err == nil && res.LSN != 0 {
		w.Header().Set(HeaderLSN, res.LSN.RecordEnd().String())
	}
	return res, err
}

// minLSN reads X-Pgrest-Min-Lsn (0 when absent).
func minLSN(r *http.Request) (cache.LSN, *apierr.Error) {
	v := r.Header.Get(HeaderMinLSN)
	if v == "" {
		return 0, nil
	}
	lsn, err := cache.ParseLSN(v)
	if err != nil {
		return 0, apierr.InvalidHeader(HeaderMinLSN, "expected a WAL position like 0/16B3748 (the "+HeaderLSN+" of a response), got '"+v+"'")
	}
	return lsn, nil
}

// want is what a replica must have replayed to serve a request: the DDL
// of the snapshot it was planned against (its event, or the WAL position
// it was loaded at) and the client's X-Pgrest-Min-Lsn.
type want struct {
	version     int64
	schema, min cache.LSN
}

func (rep *replica) has(w want) bool {
	replay := cache.LSN(rep.replay.Load())
	return replay >= w.min && (replay >= w.schema || w.version > 0 && rep.events.Load() >= w.version)
}

// choose picks a usable replica that has replayed need, round robin. When
// the client asked for a position and none has it yet, it waits up to
// timeout for one, asking the replicas directly; else nil: the primary.
func (rs *replicaSet) choose(ctx context.Context, need want, timeout time.Duration) *replica {
	if rep := rs.pick(need); rep != nil {
		return rep
	}
	if !rs.anyUsable() {
		rs.fallbacks[fallbackDown].Add(1)
		return nil
	}
	if need.min != 0 && timeout > 0 {
		if rep := rs.await(ctx, need, timeout); rep != nil {
			return rep
		}
	} else {
		rs.kickCheck() // what we know may be old: look again soon
	}
	rs.fallbacks[fallbackBehind].Add(1)
	return nil
}

func (rs *replicaSet) pick(need want) *replica {
	n := uint64(len(rs.list))
	start := rs.next.Add(1)
	for i := uint64(0); i < n; i++ {
		rep := rs.list[(start+i)%n]
		if rep.usable.Load() && rep.has(need) {
			return rep
		}
	}
	return nil
}

func (rs *replicaSet) anyUsable() bool {
	for _, rep := range rs.list {
		if rep.usable.Load() {
			return true
		}
	}
	return false
}

// awaitPoll is how often a waiting request asks the replicas how far they
// have replayed.
const awaitPoll = 5 * time.Millisecond

func (rs *replicaSet) await(ctx context.Context, need want, timeout time.Duration) *replica {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		for _, rep := range rs.list {
			if !rep.usable.Load() {
				continue
			}
			if lsn, err := rep.probe(ctx); err == nil {
				rep.advance(lsn)
				if rep.has(need) {
					return rep
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(awaitPoll):
		}
	}
}

func (rep *replica) probe(ctx context.Context) (cache.LSN, error) {
	var lsn int64
	err := rep.pool.QueryRow(ctx, replayLSNSQL).Scan(&lsn)
	return cache.LSN(lsn), err
}

// advance records a replay position; positions only move forward.
func (rep *replica) advance(lsn cache.LSN) {
	for {
		cur := rep.replay.Load()
		if uint64(lsn) <= cur || rep.replay.CompareAndSwap(cur, uint64(lsn)) {
			return
		}
	}
}

func (rs *replicaSet) kickCheck() {
	select {
	case rs.kick <- struct{}{}:
	default:
	}
}

func (rs *replicaSet) markDown(rep *replica, err error) {
	rep.usable.Store(false)
	rs.setState(rep, "down: "+err.Error())
}

// setState logs a replica's change of state once.
func (rs *replicaSet) setState(rep *replica, state string) {
	old, _ := rep.state.Swap(state).(string)
	if stateKind(old) == stateKind(state) {
		return
	}
	rs.log.Log().Str("replica", rep.name).Str("state", state).Msg("read replica " + rep.name + " is " + state)
}

// stateKind is a state without its detail ("down: <error>" is "down").
func stateKind(s string) string {
	k, _, _ := strings.Cut(s, ":")
	return k
}

// start runs the health checks until ctx ends.
func (rs *replicaSet) start(ctx context.Context, primary *pgxpool.Pool, cfg func() *config.Config) {
	if len(rs.list) == 0 {
		return
	}
	rs.cfg = cfg
	go func() {
		for {
			rs.check(ctx, primary)
			interval := cfg().ReplicaCheckInterval
			if interval <= 0 {
				interval = time.Second
			}
			select {
			case <-ctx.Done():
				return
			case <-rs.kick:
			case <-time.After(interval):
			}
		}
	}()
}

// check reads the primary's WAL position, then every replica's replay
// position, and decides which replicas are usable.
func (rs *replicaSet) check(ctx context.Context, primary *pgxpool.Pool) {
	cfg := rs.cfg()
	timeout := max(cfg.ReplicaCheckInterval, 2*time.Second)
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var plsn int64
	if err := primary.QueryRow(cctx, walInsertSQL).Scan(&plsn); err == nil {
		rs.sample(cache.LSN(plsn).RecordEnd())
	}
	var wg sync.WaitGroup
	for _, rep := range rs.list {
		wg.Add(1)
		go func(rep *replica) {
			defer wg.Done()
			lsn, err := rep.probe(cctx)
			if err != nil {
				if ctx.Err() == nil {
					rs.markDown(rep, err)
				}
				return
			}
			rep.advance(lsn)
			if id, ok, err := migrations.LatestEventID(cctx, rep.pool); err == nil && ok {
				rep.events.Store(id)
			}
			lag, bytes := rs.lag(lsn)
			rep.lagMilli.Store(lag.Milliseconds())
			rep.lagBytes.Store(bytes)
			if cfg.ReplicaMaxLag > 0 && lag > cfg.ReplicaMaxLag {
				rep.usable.Store(false)
				rs.setState(rep, "lagging")
				return
			}
			rep.usable.Store(true)
			rs.setState(rep, "up")
		}(rep)
	}
	wg.Wait()
}

// maxSamples bounds the WAL history kept for lag (at one check a second,
// ten minutes: any lag limit worth setting is shorter).
const maxSamples = 600

func (rs *replicaSet) sample(lsn cache.LSN) {
	if n := len(rs.samples); n > 0 && rs.samples[n-1].lsn == lsn {
		return // nothing written since: the older sample dates the position better
	}
	if len(rs.samples) >= maxSamples {
		rs.samples = append(rs.samples[:0], rs.samples[1:]...)
	}
	rs.samples = append(rs.samples, walSample{at: time.Now(), lsn: lsn})
}

// lag is how long ago the primary first had WAL the replica has not
// replayed (0 if it has all of it), and how many bytes it is behind.
func (rs *replicaSet) lag(replay cache.LSN) (time.Duration, int64) {
	for _, s := range rs.samples {
		if s.lsn > replay {
			last := rs.samples[len(rs.samples)-1].lsn
			return time.Since(s.at), int64(last - replay)
		}
	}
	return 0, 0
}

// ReplicaState is what /metrics and the tests see of a replica.
type ReplicaState struct {
	Name       string
	Usable     bool
	Replay     cache.LSN
	Lag        time.Duration
	LagBytes   int64
	Requests   int64
	Errors     int64
	StateShown string
}

// Replicas lists the read replicas' states.
func (a *App) Replicas() []ReplicaState {
	out := make([]ReplicaState, 0, len(a.pools.list))
	for _, rep := range a.pools.list {
		st, _ := rep.state.Load().(string)
		out = append(out, ReplicaState{Name: rep.name, Usable: rep.usable.Load(), Replay: cache.LSN(rep.replay.Load()),
			Lag: time.Duration(rep.lagMilli.Load()) * time.Millisecond, LagBytes: rep.lagBytes.Load(),
			Requests: rep.stats.requests.Load(), Errors: rep.stats.errors.Load(), StateShown: st})
	}
	return out
}

// PrimaryRequests counts the requests the primary ran (tests, metrics).
func (a *App) PrimaryRequests() int64 { return a.pools.primary.requests.Load() }

// Fallbacks counts replicable reads the primary ran, by reason.
func (a *App) Fallbacks(reason string) int64 {
	if c := a.pools.fallbacks[reason]; c != nil {
		return c.Load()
	}
	return 0
}

// replicaStatus is the replicas' part of the admin /status.
func (a *App) replicaStatus() []map[string]any {
	out := []map[string]any{}
	for _, r := range a.Replicas() {
		out = append(out, map[string]any{"name": r.Name, "usable": r.Usable, "state": r.StateShown,
			"replay_lsn": r.Replay.String(), "lag_seconds": r.Lag.Seconds(), "lag_bytes": r.LagBytes,
			"requests": r.Requests, "errors": r.Errors})
	}
	return out
}
