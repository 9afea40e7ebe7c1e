package server

import (
	"encoding/json"
	"github.com/pgrest/pgrest/executor"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/pgrest/pgrest/apierr"
	"github.com/pgrest/pgrest/planner"
	"github.com/pgrest/pgrest/request"
)

const jsonType = "application/json; charset=utf-8"

// jsonTypeValue is shared by every JSON response (net/http only reads it;
// Header.Set and Add replace or copy it): one allocation less per request.
var jsonTypeValue = []string{jsonType}

// writeError sends an error as PostgREST does: JSON body, its length, and
// Proxy-Status naming the error code (RFC 9209) for proxies and logs.
func writeError(w http.ResponseWriter, err error) {
	e := apierr.As(err)
	if e == nil {
		e = apierr.Internal("Internal server error", err.Error())
	}
	h := w.Header()
	for k, v := range e.Headers {
		h.Set(k, v)
	}
	body := e.JSON()
	h.Set("Content-Type", jsonType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Proxy-Status", "PostgREST; error="+e.Code)
	w.WriteHeader(e.Status)
	w.Write(body)
}

// contentRange renders PostgREST's Content-Range: "lo-hi/total", "*/total"
// for an empty page, "*" when the total was not counted.
func contentRange(offset, pageTotal int64, total *int64) string {
	t := "*"
	if total != nil {
		t = strconv.FormatInt(*total, 10)
	}
	if pageTotal == 0 {
		return "*/" + t
	}
	return strconv.FormatInt(offset, 10) + "-" + strconv.FormatInt(offset+pageTotal-1, 10) + "/" + t
}

// readStatus decides 200, 206 or 416 for a read (references/api/pagination_count).
func readStatus(offset, pageTotal int64, total *int64) (int, error) {
	if total == nil {
		return http.StatusOK, nil
	}
	if offset > *total {
		e := apierr.InvalidRange("An offset of " + strconv.FormatInt(offset, 10) + " was requested, but there are only " + strconv.FormatInt(*total, 10) + " rows.")
		e.Headers = map[string]string{"Content-Range": "*/" + strconv.FormatInt(*total, 10)}
		return 0, e
	}
	if pageTotal < *total {
		return http.StatusPartialContent, nil
	}
	return http.StatusOK, nil
}

// applyResponseSettings honours response.headers and response.status set by
// SQL during the request (references/transactions "Response Headers").
func applyResponseSettings(w http.ResponseWriter, status int, res *executor.Result) (int, error) {
	if res.RespHeaders != nil && *res.RespHeaders != "" {
		var hs []map[string]string
		if err := json.Unmarshal([]byte(*res.RespHeaders), &hs); err != nil {
			return 0, apierr.GucHeadersError()
		}
		for _, o := range hs {
			for k, v := range o {
				w.Header().Set(k, v)
			}
		}
	}
	if res.RespStatus != nil && *res.RespStatus != "" {
		s, err := strconv.Atoi(*res.RespStatus)
		if err != nil || s < 100 || s > 599 {
			return 0, apierr.GucStatusError(*res.RespStatus)
		}
		status = s
	}
	return status, nil
}

// writeRead sends a read's result.
func writeRead(w http.ResponseWriter, req *request.Request, p *planner.Plan, res *executor.Result, applied string) {
	if res.Plan != nil {
		writePlan(w, req, p, res)
		return
	}
	if p.Singular && res.PageTotal != 1 {
		writeError(w, apierr.SingularityError(res.PageTotal))
		return
	}
	status, aerr := readStatus(p.Offset, res.PageTotal, res.Total)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	h := w.Header()
	if !p.Singular {
		h.Set("Content-Range", contentRange(p.Offset, res.PageTotal, res.Total))
	}
	if p.Warning != "" {
		h.Set("Warning", "299 PostgRESTv"+Version+" \""+p.Warning+"\"")
	}
	if applied != "" {
		h.Set("Preference-Applied", applied)
	}
	if req.Action == request.ActRead {
		h.Set("Content-Location", contentLocation(req))
	}
	if p.NoContent {
		status = http.StatusNoContent
	}
	if status, aerr = applyResponseSettings(w, status, res); aerr != nil {
		writeError(w, aerr)
		return
	}
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	switch {
	case h.Get("Content-Type") != "": // set by the database through response.headers
	case p.MediaType != "":
		h.Set("Content-Type", p.MediaType)
	default:
		h["Content-Type"] = jsonTypeValue
	}
	if req.HeadOnly {
		// PostgREST answers HEAD without a body and without its length.
		w.WriteHeader(status)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(res.Body)))
	w.WriteHeader(status)
	w.Write(res.Body)
}

// writePlan sends the EXPLAIN output asked for with
// application/vnd.pgrst.plan, for any method.
func writePlan(w http.ResponseWriter, req *request.Request, p *planner.Plan, res *executor.Result) {
	w.Header().Set("Content-Type", p.MediaType)
	w.Header().Set("Content-Length", strconv.Itoa(len(res.Plan)))
	w.WriteHeader(http.StatusOK)
	if !req.HeadOnly {
		w.Write(res.Plan)
	}
}

// preferenceApplied renders Preference-Applied: the preferences the
// request honoured, in PostgREST's order. Which ones apply depends on the
// action; tx only when db-tx-end lets the client override it.
func preferenceApplied(req *request.Request, p *planner.Plan, txEnd string) string {
	pr := req.Prefs
	act := req.Action
	write := act == request.ActCreate || act == request.ActUpdate || act == request.ActUpsert || act == request.ActDelete
	var out []string
	add := func(ok bool, name, val string) {
		if ok && val != "" {
			out = append(out, name+"="+val)
		}
	}
	add(act == request.ActCreate && p.Upsert, "resolution", pr.Resolution)
	add(act == request.ActCreate || act == request.ActUpdate, "missing", pr.Missing)
	add(write, "return", pr.Return)
	add(true, "count", pr.Count)
	add(txEnd == "commit-allow-override" || txEnd == "rollback-allow-override", "tx", pr.Tx)
	add(true, "handling", pr.Handling)
	add(true, "timezone", pr.Timezone)
	if pr.MaxAffected != nil && pr.Handling == "strict" && (act == request.ActUpdate || act == request.ActDelete || act == request.ActInvoke) {
		add(true, "max-affected", strconv.FormatInt(*pr.MaxAffected, 10))
	}
	return strings.Join(out, ", ")
}

// mutationStatus is 201 for an insert (200 for an upsert that inserted
// nothing), and for the others 200 with a body, else 204.
func mutationStatus(req *request.Request, p *planner.Plan, res *executor.Result) int {
	inserted := !p.Inserted || res.Total == nil || *res.Total > 0
	switch {
	case req.Action == request.ActCreate && !inserted && req.Prefs.Resolution == "merge-duplicates":
		return http.StatusOK
	case req.Action == request.ActCreate:
		return http.StatusCreated
	case req.Prefs.Return != "representation":
		return http.StatusNoContent
	case req.Action == request.ActUpsert && inserted:
		return http.StatusCreated
	}
	return http.StatusOK
}

// mutationRange is the Content-Range of a write: the rows changed, their
// count when Prefer: count=exact/estimated asked for it; PUT has none.
func mutationRange(req *request.Request, res *executor.Result) string {
	var total *int64
	if req.Prefs.Count == "exact" || req.Prefs.Count == "estimated" {
		total = &res.PageTotal
	}
	switch req.Action {
	case request.ActUpsert:
		return ""
	case request.ActUpdate:
		return contentRange(0, res.PageTotal, total)
	}
	return contentRange(0, 0, total)
}

// location renders the Location of an inserted row from the planner's
// [[column, value], ...] of its primary key; a null key value is is.null.
func location(resource string, body []byte) (string, bool) {
	var pk [][2]*string
	if json.Unmarshal(body, &pk) != nil {
		return "", false
	}
	q := make([]string, 0, len(pk))
	for _, kv := range pk {
		switch {
		case kv[0] == nil:
		case kv[1] == nil:
			q = append(q, url.QueryEscape(*kv[0])+"=is.null")
		default:
			q = append(q, url.QueryEscape(*kv[0])+"=eq."+url.QueryEscape(*kv[1]))
		}
	}
	return "/" + resource + "?" + strings.Join(q, "&"), true
}

// writeMutation sends the result of POST, PUT, PATCH or DELETE
// (references/api/tables_views, references/preferences).
func writeMutation(w http.ResponseWriter, req *request.Request, p *planner.Plan, res *executor.Result, applied string) {
	if res.Plan != nil {
		writePlan(w, req, p, res)
		return
	}
	h := w.Header()
	if req.Action == request.ActCreate && req.Prefs.Return == "headers-only" && len(res.Body) > 0 {
		if loc, ok := location(req.Resource, res.Body); ok {
			h.Set("Location", loc)
		}
	}
	if cr := mutationRange(req, res); cr != "" {
		h.Set("Content-Range", cr)
	}
	if applied != "" {
		h.Set("Preference-Applied", applied)
	}
	status, aerr := applyResponseSettings(w, mutationStatus(req, p, res), res)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	if req.Prefs.Return != "representation" {
		w.WriteHeader(status)
		return
	}
	h.Set("Content-Type", p.MediaType)
	w.WriteHeader(status)
	w.Write(res.Body)
}

// contentLocation is a read's Content-Location: its path and canonical
// query, as PostgREST sends it.
func contentLocation(req *request.Request) string {
	loc := "/" + req.Resource
	if q := req.CanonicalQuery(); q != "" {
		loc += "?" + q
	}
	return loc
}
