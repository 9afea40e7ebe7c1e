package server

import (
	"context"
	"errors"
	"github.com/pgrest/pgrest/executor"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pgrest/pgrest/apierr"
	"github.com/pgrest/pgrest/cache"
	"github.com/pgrest/pgrest/planner"
	"github.com/pgrest/pgrest/request"
	"github.com/pgrest/pgrest/server/config"
)

// Headers pgrest adds beyond PostgREST (COMPAT S7).
const (
	// HeaderSchemaVersion names the schema-cache version that served a response.
	HeaderSchemaVersion = "X-Schema-Version"
	// HeaderSchemaVersionMin asks to be served by at least that version.
	HeaderSchemaVersionMin = "X-Schema-Version-Min"
)

// serveAPI is the one path every API request takes:
// authenticate → parse → plan (snapshot) → execute → respond.
func (a *App) serveAPI(w http.ResponseWriter, r *http.Request) {
	rt := a.derivedFor(r)
	cfg := rt.cfg
	if h := cfg.ServerTraceHeader; h != "" && r.Header.Get(h) != "" {
		w.Header().Set(h, r.Header.Get(h))
	}
	ew := newEdgeWriter(w, cfg.ServerTimingEnabled)
	w = ew
	snap, aerr := a.snapshotFor(r, cfg)
	if aerr != nil {
		a.fail(w, cfg, aerr)
		return
	}
	w.Header().Set(HeaderSchemaVersion, strconv.FormatInt(snap.Version, 10))

	// As in PostgREST, the token is checked before anything else is read.
	who, aerr := rt.auth.Authenticate(r.Header.Get("Authorization"), time.Now())
	ew.mark("jwt")
	if aerr != nil {
		a.fail(w, cfg, aerr)
		return
	}
	setLogRole(r, who.Role)
	if request.IsBatch(r) {
		a.serveBatch(w, r, rt, snap, who)
		return
	}
	bulk := takeBulk(r, cfg)
	req, aerr := request.Parse(r, request.Options{Schemas: cfg.DBSchemas})
	if aerr == nil && bulk != nil {
		aerr = bulk.attach(req, snap.Relation(req.Schema, req.Resource))
	}
	ew.mark("parse")
	if aerr != nil {
		a.fail(w, cfg, aerr)
		return
	}
	if req.SchemaNegotiated || len(cfg.DBSchemas) > 1 {
		w.Header().Set("Content-Profile", req.Schema)
	}
	if cfg.RealtimeEnabled && wantsEvents(r, req) {
		a.serveEvents(w, r, rt, snap, req, who)
		return
	}
	if req.Action == request.ActInfo {
		methods, merr := allowed(snap, req)
		if merr != nil {
			a.fail(w, cfg, merr)
			return
		}
		writeInfo(w, methods)
		return
	}
	// PostgREST answers 42501 with 401 to the anonymous role, 403 to others.
	authenticated := !who.Anonymous
	if req.Action == request.ActSchemaRead {
		if req = a.serveRoot(w, r, cfg, snap, req, who.Role, who.ClaimsJSON, authenticated); req == nil {
			return
		}
	}
	opts := planOptions(cfg)
	plan, err := a.planner.Plan(req, snap, opts)
	if err != nil && a.missingObject(r.Context(), err, req) {
		// The object exists in the catalog but not in our snapshot (a
		// migration whose event we have not seen yet): the listener rebuilt
		// the snapshot, so plan again before answering 404.
		snap = a.holder.Load()
		w.Header().Set(HeaderSchemaVersion, strconv.FormatInt(snap.Version, 10))
		plan, err = a.planner.Plan(req, snap, opts)
	}
	ew.mark("plan")
	if err != nil {
		a.fail(w, cfg, executor.ToAPIError(err, authenticated))
		return
	}
	tc, aerr := a.txContext(rt, req, who.Role, who.ClaimsJSON, authenticated)
	if aerr != nil {
		a.fail(w, cfg, aerr)
		return
	}
	if bulk != nil {
		tc.Body = bulk.reader
	}
	tc.Check = writeCheck(req, plan)
	if cfg.LogQuery {
		tc.Record = true
		setLogQueries(r, tc)
	}
	applied := preferenceApplied(req, plan, cfg.DBTxEnd)
	if plan.Stream {
		a.serveStream(w, r, cfg, req, plan, tc, applied)
		return
	}
	if req.Action == request.ActRead && plan.Explain == "" {
		tc.Deliver = func(res *executor.Result) {
			ew.mark("transaction")
			writeRead(w, req, plan, res, applied)
		}
	}
	res, err := a.run(w, r, req, snap, plan, tc)
	if err == nil && res.Delivered {
		return
	}
	ew.mark("transaction")
	if err != nil {
		a.fail(w, cfg, executor.ToAPIError(err, tc.Authenticated))
		return
	}
	if req.Action == request.ActRead || req.Action == request.ActInvoke {
		writeRead(w, req, plan, res, applied)
		return
	}
	writeMutation(w, req, plan, res, applied)
}

// planOptions are the planner options of a configuration; batches and a
// subscription's re-reads compile with the same ones as a single request.
func planOptions(cfg *config.Config) planner.Options {
	return planner.Options{MaxRows: cfg.DBMaxRows, AggregatesEnabled: cfg.DBAggregatesEnabled, PlanEnabled: cfg.DBPlanEnabled,
		HoistedSettings: cfg.DBHoistedTxSettings, LegacyTargetNames: cfg.URLUseLegacyTargetNames}
}

// writeCheck is what a write checks before COMMIT (nil for reads): a
// singular answer needs exactly one row, and max-affected its bound.
func writeCheck(req *request.Request, plan *planner.Plan) func(*executor.Result) error {
	// Without a check the COMMIT rides in the statement's own round trip.
	strictMax := req.Prefs.MaxAffected != nil && req.Prefs.Handling == "strict"
	if req.Action == request.ActRead || plan.Explain != "" || (!plan.Singular && !strictMax) {
		return nil
	}
	return func(res *executor.Result) error {
		if plan.Singular && res.PageTotal != 1 {
			return apierr.SingularityError(res.PageTotal)
		}
		if max := req.Prefs.MaxAffected; max != nil && req.Prefs.Handling == "strict" && res.PageTotal > *max {
			return apierr.MaxAffectedViolation(res.PageTotal)
		}
		return nil
	}
}

// snapshotFor returns the snapshot a request is served from, honouring
// X-Schema-Version-Min (read-your-DDL across instances).
func (a *App) snapshotFor(r *http.Request, cfg *config.Config) (*cache.Snapshot, error) {
	snap := a.holder.Load()
	if snap == nil && a.firstLoadPending() {
		// Starting up: the first load is under way, so a request waits for
		// it (as for X-Schema-Version-Min) rather than failing at once.
		ctx, cancel := context.WithTimeout(r.Context(), cfg.SchemaWaitTimeout)
		snap, _ = a.holder.WaitVersion(ctx, math.MinInt64)
		cancel()
	}
	if snap == nil {
		return nil, apierr.SchemaCacheNotLoaded()
	}
	minHdr := r.Header.Get(HeaderSchemaVersionMin)
	if minHdr == "" {
		return snap, nil
	}
	min, err := strconv.ParseInt(strings.TrimSpace(minHdr), 10, 64)
	if err != nil {
		return nil, apierr.InvalidHeader(HeaderSchemaVersionMin, "expected an integer, got '"+minHdr+"'")
	}
	if snap.Version >= min {
		return snap, nil
	}
	ctx, cancel := context.WithTimeout(r.Context(), cfg.SchemaWaitTimeout)
	defer cancel()
	snap, ok := a.holder.WaitVersion(ctx, min)
	if !ok {
		return nil, apierr.SchemaVersionUnavailable(minHdr, snap.Version)
	}
	return snap, nil
}

// firstLoadPending is true until the first schema load has either
// succeeded or failed: a database that is down answers 503 at once.
func (a *App) firstLoadPending() bool {
	if a.schema == nil {
		return false
	}
	st := a.schema.Stats()
	return st.Loads == 0 && st.Failures == 0
}

// missingObject reports whether err is "not in the schema cache" for an
// object that the listener found in the catalog and loaded just now.
func (a *App) missingObject(ctx context.Context, err error, req *request.Request) bool {
	var ae *apierr.Error
	if !errors.As(err, &ae) || (ae.Code != "PGRST205" && ae.Code != "PGRST202") || a.schema == nil {
		return false
	}
	return a.schema.CheckMissing(ctx, cache.QI{Schema: req.Schema, Name: req.Resource})
}

// txContext gathers the per-request settings (references/transactions).
func (a *App) txContext(rt *derived, req *request.Request, role string, claims []byte, authenticated bool) (*executor.TxContext, error) {
	cfg := rt.cfg
	tc := &executor.TxContext{
		Role:          role,
		Authenticated: authenticated,
		ClaimsJSON:    string(claims),
		Method:        req.Method,
		Path:          req.Path,
		HeadersJSON:   objectJSON(req.Headers),
		CookiesJSON:   objectJSON(req.Cookies),
		SearchPath:    rt.searchPath(req.Schema),
		AppSettings:   cfg.AppSettings,
	}
	tc.RoleSettings, tc.RoleIsolation = a.settingsOf(role)
	// Derived from the request's own config snapshot: a reload swapping
	// the config mid-request can't mix two configurations.
	if cfg.DBPreRequest != "" {
		tc.PreRequest = quoteQualified(cfg.DBPreRequest)
	}
	// PostgreSQL validates the zone: an unknown one fails the request
	// with 22023, as in PostgREST v16.
	tc.Timezone = req.Prefs.Timezone
	switch cfg.DBTxEnd {
	case "rollback":
		tc.Rollback = true
	case "commit-allow-override":
		tc.Rollback = req.Prefs.Tx == "rollback"
	case "rollback-allow-override":
		tc.Rollback = req.Prefs.Tx != "commit"
	}
	return tc, nil
}

func searchPath(schema string, extra []string) string {
	parts := []string{pgx.Identifier{schema}.Sanitize()}
	for _, s := range extra { // repeated as given: PostgREST does not dedupe
		parts = append(parts, pgx.Identifier{s}.Sanitize())
	}
	return strings.Join(parts, ", ")
}

// fail writes an error; client-error-verbosity=minimal leaves out details
// and hints, which can reveal schema internals.
func (a *App) fail(w http.ResponseWriter, cfg *config.Config, err error) {
	var e *apierr.Error
	if !errors.As(err, &e) {
		// Every layer returns catalogue errors; anything else is pgrest's own
		// failure, answered as one and counted below.
		e = apierr.Internal("Internal server error", err.Error())
	}
	if e.Status >= 500 {
		a.logServerError(e)
	}
	if cfg.ClientErrorVerbosity == "minimal" && e.Body == nil {
		c := *e
		c.Minimal = true
		e = &c
	}
	writeError(w, e)
}
