package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/pgrest/pgrest/planner"
	"github.com/pgrest/pgrest/server/apierr"
	"github.com/pgrest/pgrest/server/request"
)

const jsonType = "application/json; charset=utf-8"

func writeError(w http.ResponseWriter, e *apierr.Error) {
	h := w.Header()
	h.Del("Vary") // errors carry no Vary in PostgREST, but name their code
	h.Set("Proxy-Status", "PostgREST; error="+e.Code)
	for k, v := range e.Headers {
		h.Set(k, v)
	}
	h.Set("Content-Type", jsonType)
	w.WriteHeader(e.Status)
	w.Write(e.JSON())
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
func readStatus(offset, pageTotal int64, total *int64) (int, *apierr.Error) {
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
func applyResponseSettings(w http.ResponseWriter, status int, res *result) (int, *apierr.Error) {
	if res.RespHeaders != nil && *res.RespHeaders != "" {
		var hs []map[string]string
		if err := json.Unmarshal([]byte(*res.RespHeaders), &hs); err != nil {
			return 0, apierr.New(http.StatusInternalServerError, "PGRST111", "Response headers must be a JSON array of objects", "", "")
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
			return 0, apierr.New(http.StatusInternalServerError, "PGRST112", "Response status must be a valid HTTP status code", "Invalid response status: "+*res.RespStatus, "")
		}
		status = s
	}
	return status, nil
}

// writeRead sends a read's result.
func writeRead(w http.ResponseWriter, req *request.Request, p *planner.Plan, res *result, txEnd string) {
	if res.Plan != nil {
		ct := "application/vnd.pgrst.plan+text; charset=utf-8"
		if p.MediaType != "" {
			ct = p.MediaType
		}
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(http.StatusOK)
		w.Write(res.Plan)
		return
	}
	if p.Singular && res.PageTotal != 1 {
		writeError(w, singularError(res.PageTotal))
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
	setPreferenceApplied(h, req, txEnd)
	if req.Action == request.ActRead {
		loc := "/" + req.Resource
		if req.Canonical != "" {
			loc += "?" + req.Canonical
		}
		h.Set("Content-Location", loc)
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
		h.Set("Content-Type", jsonType)
	}
	// A HEAD answer has no body, and PostgREST gives it no Content-Length.
	if req.HeadOnly {
		w.WriteHeader(status)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(res.Body)))
	w.WriteHeader(status)
	w.Write(res.Body)
}

func singularError(n int64) *apierr.Error {
	return apierr.New(http.StatusNotAcceptable, "PGRST116", "Cannot coerce the result to a single JSON object",
		"The result contains "+strconv.FormatInt(n, 10)+" rows", "")
}

// setPreferenceApplied names the preferences the answer honoured, in
// PostgREST's order and per kind of request: resolution (inserts),
// missing (inserts, updates), return (writes), count, tx (when the
// transaction end may be overridden), handling, timezone, and max-affected
// with handling=strict (updates, deletes, calls).
func setPreferenceApplied(h http.Header, req *request.Request, txEnd string) {
	p := &req.Prefs
	act := req.Action
	write := act == request.ActCreate || act == request.ActUpdate || act == request.ActDelete || act == request.ActUpsert
	var applied []string
	add := func(when bool, name, val string, valid ...string) {
		if when && val != "" && slices.Contains(valid, val) {
			applied = append(applied, name+"="+val)
		}
	}
	add(act == request.ActCreate, "resolution", p.Resolution, "merge-duplicates", "ignore-duplicates")
	add(act == request.ActCreate || act == request.ActUpdate, "missing", p.Missing, "default", "null")
	add(write, "return", p.Return, "minimal", "headers-only", "representation")
	add(true, "count", p.Count, "exact", "planned", "estimated")
	add(txEnd == "commit-allow-override" || txEnd == "rollback-allow-override", "tx", p.Tx, "commit", "rollback")
	add(true, "handling", p.Handling, "strict", "lenient")
	if p.Timezone != "" {
		applied = append(applied, "timezone="+p.Timezone)
	}
	if p.MaxAffected != nil && p.Handling == "strict" && (act == request.ActUpdate || act == request.ActDelete || act == request.ActInvoke) {
		applied = append(applied, "max-affected="+strconv.FormatInt(*p.MaxAffected, 10))
	}
	if len(applied) > 0 {
		h.Set("Preference-Applied", strings.Join(applied, ", "))
	}
}

// mutationRange is a write's Content-Range as PostgREST words it: the rows
// changed by an update, "*" for inserts and deletes, their number as total
// only with Prefer: count; a PUT has none.
func mutationRange(req *request.Request, n int64) string {
	total := "*"
	if req.Prefs.Count != "" {
		total = strconv.FormatInt(n, 10)
	}
	switch {
	case req.Action == request.ActUpsert:
		return ""
	case req.Action == request.ActUpdate && n > 0:
		return "0-" + strconv.FormatInt(n-1, 10) + "/" + total
	}
	return "*/" + total
}

// writeMutation sends the result of POST, PATCH or DELETE
// (references/api/tables_views, references/preferences).
func writeMutation(w http.ResponseWriter, req *request.Request, p *planner.Plan, res *result, tc *txContext, txEnd string) {
	h := w.Header()
	if req.Action == request.ActCreate && req.Prefs.Return == "headers-only" && len(res.Body) > 0 {
		var pk [][2]*string
		if json.Unmarshal(res.Body, &pk) == nil {
			q := make([]string, 0, len(pk))
			for _, kv := range pk {
				switch {
				case kv[0] == nil:
				case kv[1] == nil: // PostgREST names a null key part is.null
					q = append(q, url.QueryEscape(*kv[0])+"=is.null")
				default:
					q = append(q, url.QueryEscape(*kv[0])+"=eq."+url.QueryEscape(*kv[1]))
				}
			}
			h.Set("Location", "/"+req.Resource+"?"+strings.Join(q, "&"))
		}
	}
	setPreferenceApplied(h, req, txEnd)
	status := http.StatusNoContent
	if req.Action == request.ActCreate {
		status = http.StatusCreated
	} else if req.Prefs.Return == "representation" {
		status = http.StatusOK
	}
	if cr := mutationRange(req, res.PageTotal); cr != "" {
		h.Set("Content-Range", cr)
	}
	status, aerr := applyResponseSettings(w, status, res)
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
