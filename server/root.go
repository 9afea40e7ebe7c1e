package server

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/pgrest/pgrest/cache"
	"github.com/pgrest/pgrest/planner"
	"github.com/pgrest/pgrest/server/apierr"
	"github.com/pgrest/pgrest/server/config"
	"github.com/pgrest/pgrest/server/openapi"
	"github.com/pgrest/pgrest/server/request"
)

// openAPIType is the Content-Type of the OpenAPI document.
const openAPIType = "application/openapi+json; charset=utf-8"

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
		w.Header().Set("Allow", methods)
		w.WriteHeader(http.StatusOK)
		return nil
	}
	if r.Method == http.MethodOptions {
		w.Header().Set("Allow", "OPTIONS,GET,HEAD")
		w.WriteHeader(http.StatusOK)
		return nil
	}
	if cfg.OpenAPIMode == "disabled" {
		a.fail(w, cfg, apierr.New(http.StatusNotFound, "PGRST126", "Root endpoint metadata is disabled", "", ""))
		return nil
	}
	if !acceptsOpenAPI(req.Accept) {
		a.fail(w, cfg, apierr.NotAcceptable(req.Headers["accept"]))
		return nil
	}
	// The catalog facts are read as the request's role, in its own
	// transaction (pre-request included), so privileges are the role's.
	plan := &planner.Plan{SQL: openapi.CatalogSQL, Args: openapi.CatalogArgs(snap, req.Schema), ReadOnly: true}
	tc, aerr := a.txContext(cfg, req, role, claims, authenticated)
	if aerr != nil {
		a.fail(w, cfg, aerr)
		return nil
	}
	res, err := a.exec.run(r.Context(), plan, tc)
	if err != nil {
		a.fail(w, cfg, toAPIError(err, authenticated))
		return nil
	}
	var cat openapi.Catalog
	if err := json.Unmarshal(res.Body, &cat); err != nil {
		a.fail(w, cfg, apierr.New(http.StatusInternalServerError, "PGRST000", "Could not read the catalog for the OpenAPI document", err.Error(), ""))
		return nil
	}
	body, err := openapi.Build(snap, openapi.Config{
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
		a.fail(w, cfg, apierr.New(http.StatusInternalServerError, "PGRST000", "Could not render the OpenAPI document", err.Error(), ""))
		return nil
	}
	h := w.Header()
	h.Set("Content-Type", openAPIType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if !req.HeadOnly {
		w.Write(body)
	}
	return nil
}

// acceptsOpenAPI: PostgREST serves the document for application/openapi+json,
// application/json (vnd.pgrst.array+json without stripped nulls reads as
// that) and */*, whatever their order or weight.
func acceptsOpenAPI(accept []request.MediaType) bool {
	for _, mt := range accept {
		switch mt.Type + "/" + mt.Subtype {
		case "application/openapi+json", "application/json", "*/*":
			return true
		case "application/vnd.pgrst.array+json", "application/vnd.pgrst.array":
			if mt.Params["nulls"] != "stripped" {
				return true
			}
		}
	}
	return false
}

// rootSpecCall turns a request on / into the call of the db-root-spec
// function, parsed as GET /rpc/<fn> would be (query parameters are its
// arguments), in the function's schema when the setting names one.
func rootSpecCall(r *http.Request, cfg *config.Config, root *request.Request) (*request.Request, *apierr.Error) {
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
