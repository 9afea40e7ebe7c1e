package server

import (
	"encoding/json"
	"github.com/pgrest/pgrest/executor"
	"net/http"
	"strconv"
	"strings"

	"github.com/pgrest/pgrest/apierr"
	"github.com/pgrest/pgrest/cache"
	"github.com/pgrest/pgrest/planner"
	"github.com/pgrest/pgrest/request"
	"github.com/pgrest/pgrest/server/config"
	"github.com/pgrest/pgrest/server/openapi"
)

// The Content-Types of the OpenAPI documents: PostgREST's Swagger 2.0,
// and the 3.1 rendering served to clients that ask for it by version.
const (
	openAPIType   = "application/openapi+json; charset=utf-8"
	openAPI31Type = "application/openapi+json; version=3.1; charset=utf-8"
)

// docsVersion names the PostgREST documentation the document links to.
const docsVersion = "v16"

// serveRoot answers a request on the root path (references/api/openapi):
// the OpenAPI document, or OPTIONS. With db-root-spec the root is that
// function instead: serveRoot then returns the request rewritten as a call
// for the caller to plan and run; otherwise it has answered and returns nil.
func (a *App) serveRoot(w http.ResponseWriter, r *http.Request, cfg *config.Config, snap *cache.Snapshot,
	req *request.Request, role string, claims []byte, authenticated bool) *request.Request {
	if cfg.DBRootSpec != "" {
		call, aerr := rootSpecCall(r, cfg, req)
		if aerr != nil {
			a.fail(w, cfg, aerr)
			return nil
		}
		if r.Method != http.MethodOptions {
			return call
		}
		methods, aerr := allowed(snap, call)
		if aerr != nil {
			a.fail(w, cfg, aerr)
			return nil
		}
		writeInfo(w, methods)
		return nil
	}
	if r.Method == http.MethodOptions {
		writeInfo(w, "OPTIONS,GET,HEAD")
		return nil
	}
	if cfg.OpenAPIMode == "disabled" {
		a.fail(w, cfg, apierr.RootDisabled())
		return nil
	}
	v31, ok := openAPIVersion(req.Accept)
	if !ok {
		a.fail(w, cfg, apierr.NotAcceptable(req.Headers["accept"]))
		return nil
	}
	// The catalog facts are read as the request's role, in its own
	// transaction (pre-request included), so privileges are the role's.
	plan := &planner.Plan{SQL: openapi.CatalogSQL, Args: openapi.CatalogArgs(snap, req.Schema), ReadOnly: true}
	tc, aerr := a.txContext(a.derivedFor(r), req, role, claims, authenticated)
	if aerr != nil {
		a.fail(w, cfg, aerr)
		return nil
	}
	markPhase(w, "plan")
	sctx, done := a.statementContext(r)
	res, err := a.exec.Run(sctx, plan, tc)
	done()
	markPhase(w, "transaction")
	if err != nil {
		a.fail(w, cfg, executor.ToAPIError(err, authenticated))
		return nil
	}
	var cat openapi.Catalog
	if err = json.Unmarshal(res.Body, &cat); err != nil {
		a.fail(w, cfg, apierr.Internal("Could not read the catalog for the OpenAPI document", err.Error()))
		return nil
	}
	build, contentType := openapi.Build, openAPIType
	if v31 {
		build, contentType = openapi.Build31, openAPI31Type
	}
	if req.HeadOnly {
		// As PostgREST, HEAD does not render the document, so its length
		// is not known either.
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(http.StatusOK)
		return nil
	}
	body, err := build(snap, openapi.Config{
		Schema:           req.Schema,
		Version:          Version,
		DocsVersion:      docsVersion,
		FollowPrivileges: cfg.OpenAPIMode != "ignore-privileges",
		SecurityActive:   cfg.OpenAPISecurityActive,
		ProxyURI:         cfg.OpenAPIServerProxyURI,
		ServerHost:       cfg.ServerHost,
		ServerPort:       cfg.ServerPort,
	}, &cat)
	if err != nil {
		a.fail(w, cfg, apierr.Internal("Could not render the OpenAPI document", err.Error()))
		return nil
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body)
	return nil
}

// openAPIVersion picks the document for the Accept header: ok when one
// is acceptable, v31 when it is the 3.1 one. Asking for version 3.1 wins
// over what PostgREST serves its document for unless that is preferred
// (a higher q), so that PostgREST's clients, who never name 3.1, see no
// change.
func openAPIVersion(accept []request.MediaType) (v31, ok bool) {
	q31, q20 := -1.0, -1.0
	for _, mt := range accept {
		switch {
		case wants31(mt) && mt.Q > 0:
			q31 = max(q31, mt.Q)
		case acceptsSwagger(mt):
			q20 = max(q20, mt.Q)
		}
	}
	if q31 >= 0 && q31 >= q20 {
		return true, true
	}
	return false, q20 >= 0
}

// wants31: OpenAPI's media type, or its older vnd.oai name, with the
// version parameter naming 3.1 (or one of its patch releases).
func wants31(mt request.MediaType) bool {
	switch mt.Type + "/" + mt.Subtype {
	case "application/openapi+json", "application/vnd.oai.openapi+json":
		v := mt.Params["version"]
		return v == "3.1" || strings.HasPrefix(v, "3.1.")
	}
	return false
}

// acceptsSwagger: PostgREST serves its document for application/openapi+json,
// application/json (vnd.pgrst.array+json without stripped nulls reads as
// that) and */*, whatever their order or weight (q=0 included).
func acceptsSwagger(mt request.MediaType) bool {
	switch mt.Type + "/" + mt.Subtype {
	case "application/openapi+json", "application/json", "*/*":
		return true
	case "application/vnd.pgrst.array+json", "application/vnd.pgrst.array":
		return mt.Params["nulls"] != "stripped"
	}
	return false
}

// rootSpecCall turns a request on / into the call of the db-root-spec
// function, parsed as GET /rpc/<fn> would be (query parameters are its
// arguments), in the function's schema when the setting names one.
func rootSpecCall(r *http.Request, cfg *config.Config, root *request.Request) (*request.Request, error) {
	schema, fn := "", cfg.DBRootSpec
	if i := strings.IndexByte(fn, '.'); i > 0 {
		schema, fn = fn[:i], fn[i+1:]
	}
	r2 := r.Clone(r.Context())
	u := *r.URL
	u.Path, u.RawPath = "/rpc/"+fn, ""
	r2.URL = &u
	req, aerr := request.Parse(r2, request.Options{Schemas: cfg.DBSchemas})
	if aerr != nil {
		return nil, aerr
	}
	req.Path = root.Path
	if schema != "" {
		req.Schema = schema
	}
	return req, nil
}
