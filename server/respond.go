package server

import (
	"encoding/json"
	"net/http"
	"net/url"
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
func writeRead(w http.ResponseWriter, req *request.Request, p *planner.Plan, res *result) {
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

// writeMutation sends the result of POST, PATCH or DELETE
// (references/api/tables_views, references/preferences).
func writeMutation(w http.ResponseWriter, req *request.Request, p *planner.Plan, res *result, tc *txContext, txEnd string) {
	h := w.Header()
	var applied []string
	if req.Prefs.Return != "" {
		applied = append(applied, "return="+req.Prefs.Return)
	}
	if req.Prefs.Resolution != "" && req.Action == request.ActCreate {
		applied = append(applied, "resolution="+req.Prefs.Resolution)
	}
	if req.Prefs.Missing != "" && req.Action == request.ActCreate {
		applied = append(applied, "missing="+req.Prefs.Missing)
	}
	if req.Prefs.MaxAffected != nil && req.Prefs.Handling == "strict" {
		applied = append(applied, "max-affected="+strconv.FormatInt(*req.Prefs.MaxAffected, 10))
	}
	if req.Prefs.Tx != "" && (txEnd == "commit-allow-override" || txEnd == "rollback-allow-override") {
		applied = append(applied, "tx="+req.Prefs.Tx)
	}
	if req.Action == request.ActCreate && req.Prefs.Return == "headers-only" && len(res.Body) > 0 {
		var pk [][2]*string
		if json.Unmarshal(res.Body, &pk) == nil {
			q := make([]string, 0, len(pk))
			for _, kv := range pk {
				if kv[0] != nil && kv[1] != nil {
					q = append(q, url.QueryEscape(*kv[0])+"=eq."+url.QueryEscape(*kv[1]))
				}
			}
			h.Set("Location", "/"+req.Resource+"?"+strings.Join(q, "&"))
		}
	}
	if len(applied) > 0 {
		h.Set("Preference-Applied", strings.Join(applied, ", "))
	}
	status := http.StatusNoContent
	if req.Action == request.ActCreate {
		status = http.StatusCreated
	} else if req.Prefs.Return == "representation" {
		status = http.StatusOK
	}
	h.Set("Content-Range", "*/*")
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
