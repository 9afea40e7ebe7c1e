package request

import (
	"cmp"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/pgrest/pgrest/apierr"
)

// Options are the configuration values the parser needs.
type Options struct {
	Schemas      []string // db-schemas; the first is the default
	MaxBodyBytes int64
}

var operators = map[string]bool{
	"eq": true, "neq": true, "gt": true, "gte": true, "lt": true, "lte": true,
	"like": true, "ilike": true, "match": true, "imatch": true, "in": true, "is": true,
	"isdistinct": true, "fts": true, "plfts": true, "phfts": true, "wfts": true,
	"cs": true, "cd": true, "ov": true, "sl": true, "sr": true, "nxr": true, "nxl": true, "adj": true,
}

// Parse turns an HTTP request into an API request.
func Parse(r *http.Request, o Options) (*Request, error) {
	req := &Request{Method: r.Method, Path: r.URL.Path, Headers: map[string]string{}, Cookies: map[string]string{}}
	for k, vs := range r.Header {
		req.Headers[strings.ToLower(k)] = strings.Join(vs, ", ")
	}
	for _, c := range r.Cookies() {
		req.Cookies[c.Name] = c.Value
	}
	if err := route(req, r); err != nil {
		return nil, err
	}
	if err := profile(req, r, o.Schemas); err != nil {
		return nil, err
	}
	if err := parsePrefer(req, r.Header["Prefer"]); err != nil {
		return nil, err
	}
	req.Accept = parseAccept(headerValue(r.Header, "Accept"))
	if ct := headerValue(r.Header, "Content-Type"); ct != "" {
		if mts := parseAccept(ct); len(mts) > 0 {
			req.ContentType = mts[0]
		}
	}
	if err := parseQuery(req, r.URL.RawQuery); err != nil {
		return nil, err
	}
	// RFC 9110: the Range header is for GET only (PostgREST ignores it on HEAD too).
	if r.Method == http.MethodGet {
		if err := parseRange(req, headerValue(r.Header, "Range")); err != nil {
			return nil, err
		}
	}
	if hb, ok := r.Body.(*heldBody); ok && r.Method != http.MethodGet && r.Method != http.MethodHead {
		req.Body = hb.b
		if o.MaxBodyBytes > 0 && int64(len(hb.b)) > o.MaxBodyBytes {
			req.Body = hb.b[:o.MaxBodyBytes] // as the limited reader below reads it
		}
	} else if r.Body != nil && r.Method != http.MethodGet && r.Method != http.MethodHead {
		var rd io.Reader = r.Body
		if o.MaxBodyBytes > 0 {
			rd = io.LimitReader(r.Body, o.MaxBodyBytes)
		}
		b, err := readBody(rd, r.ContentLength)
		if err != nil {
			return nil, apierr.BodyReadError(err)
		}
		req.Body = b
	}
	return req, nil
}

// headerValue is h.Get(key) for a key written in canonical form, without
// canonicalizing it again on every request.
func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// presizeMax bounds the buffer allocated on the word of Content-Length
// alone; pgrest-max-body-size has already refused larger bodies when set.
const presizeMax = 256 << 20

// readBody reads a body whose length is announced into one buffer of that
// length: growing it as io.ReadAll does would cost twice a large body.
func readBody(r io.Reader, n int64) ([]byte, error) {
	if n <= 0 || n > presizeMax {
		return io.ReadAll(r)
	}
	b := make([]byte, n)
	m, err := io.ReadFull(r, b) // a body cut short is an error, as in io.ReadAll
	return b[:m], err
}

func route(req *Request, r *http.Request) *apierr.Error {
	segs := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
	for i, s := range segs {
		u, err := url.PathUnescape(s)
		if err != nil {
			return apierr.InvalidPath()
		}
		segs[i] = u
	}
	m := r.Method
	switch {
	case len(segs) == 1 && segs[0] == "":
		if m != http.MethodGet && m != http.MethodHead && m != http.MethodOptions {
			return apierr.UnsupportedMethod(m)
		}
		req.Action = ActSchemaRead
	case len(segs) == 2 && segs[0] == "rpc" && segs[1] != "":
		req.Resource, req.RPC = segs[1], true
		switch m {
		case http.MethodGet, http.MethodHead, http.MethodPost:
			req.Action = ActInvoke
		case http.MethodOptions:
			req.Action = ActInfo
		default:
			return apierr.RPCMethodNotAllowed()
		}
	case len(segs) == 1:
		req.Resource = segs[0]
		switch m {
		case http.MethodGet, http.MethodHead:
			req.Action = ActRead
		case http.MethodPost:
			req.Action = ActCreate
		case http.MethodPatch:
			req.Action = ActUpdate
		case http.MethodPut:
			req.Action = ActUpsert
		case http.MethodDelete:
			req.Action = ActDelete
		case http.MethodOptions:
			req.Action = ActInfo
		default:
			return apierr.UnsupportedMethod(m)
		}
	default:
		return apierr.InvalidPath()
	}
	req.HeadOnly = m == http.MethodHead
	return nil
}

func profile(req *Request, r *http.Request, schemas []string) *apierr.Error {
	if len(schemas) == 0 {
		schemas = []string{"public"}
	}
	h := "Content-Profile"
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		h = "Accept-Profile"
	}
	p := headerValue(r.Header, h)
	if p == "" {
		req.Schema = schemas[0]
		return nil
	}
	for _, s := range schemas {
		if s == p {
			req.Schema, req.SchemaNegotiated = p, true
			return nil
		}
	}
	return apierr.UnacceptableSchema(p, schemas)
}

// parsePrefer reads every Prefer header; as in PostgREST, the first value
// given for a preference wins and later ones are ignored.
func parsePrefer(req *Request, values []string) *apierr.Error {
	p := &req.Prefs
	set := func(dst *string, val string, ok bool) bool {
		if ok && *dst == "" {
			*dst = val
		}
		return ok
	}
	for _, v := range values {
		for item := range strings.SplitSeq(v, ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			k, val, _ := strings.Cut(item, "=")
			var ok bool
			switch k {
			case "return":
				ok = set(&p.Return, val, val == "minimal" || val == "headers-only" || val == "representation")
			case "count":
				ok = set(&p.Count, val, val == "exact" || val == "planned" || val == "estimated")
			case "resolution":
				ok = set(&p.Resolution, val, val == "merge-duplicates" || val == "ignore-duplicates")
			case "missing":
				ok = set(&p.Missing, val, val == "default" || val == "null")
			case "handling":
				ok = set(&p.Handling, val, val == "strict" || val == "lenient")
			case "timezone":
				// v16 hands the zone to PostgreSQL, which rejects unknown ones (22023).
				ok = set(&p.Timezone, val, val != "")
			case "tx":
				ok = set(&p.Tx, val, val == "commit" || val == "rollback")
			case "max-affected":
				n, err := strconv.ParseInt(val, 10, 64)
				ok = err == nil && n >= 0
				if ok && p.MaxAffected == nil {
					p.MaxAffected = &n
				}
			}
			if !ok {
				p.Invalid = append(p.Invalid, item)
			}
		}
	}
	if p.Handling == "strict" && len(p.Invalid) > 0 {
		return apierr.InvalidPreferences(p.Invalid)
	}
	return nil
}

// parseAccept parses an Accept (or Content-Type) header, best first.
// Params is nil for a media type without parameters (reading it is fine;
// nothing writes it).
func parseAccept(h string) []MediaType {
	out := make([]MediaType, 0, 1+strings.Count(h, ","))
	ranked := false
	for part := range strings.SplitSeq(h, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		head, rest, _ := strings.Cut(part, ";")
		typ, sub, _ := strings.Cut(strings.ToLower(strings.TrimSpace(head)), "/")
		mt := MediaType{Type: typ, Subtype: sub, Q: 1}
		for rest != "" {
			var f string
			f, rest, _ = strings.Cut(rest, ";")
			k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
			v = strings.Trim(v, `"`)
			if strings.EqualFold(k, "q") {
				if q, err := strconv.ParseFloat(v, 64); err == nil {
					mt.Q, ranked = q, true
				}
				continue
			}
			if mt.Params == nil {
				mt.Params = map[string]string{}
			}
			mt.Params[strings.ToLower(k)] = v
		}
		out = append(out, mt)
	}
	if ranked {
		slices.SortStableFunc(out, func(a, b MediaType) int { return cmp.Compare(b.Q, a.Q) })
	}
	if len(out) == 0 {
		out = append(out, MediaType{Type: "*", Subtype: "*", Q: 1})
	}
	return out
}

func parseRange(req *Request, h string) *apierr.Error {
	if h == "" {
		return nil
	}
	h = strings.TrimPrefix(strings.TrimSpace(h), "items=")
	lo, hi, ok := strings.Cut(h, "-")
	from, err := strconv.ParseInt(lo, 10, 64)
	if !ok || err != nil || from < 0 {
		return nil // PostgREST ignores a Range it cannot read
	}
	req.RangeHeader = true
	rg := rootRange(req)
	var limit *int64
	if hi != "" {
		to, err := strconv.ParseInt(hi, 10, 64)
		if err != nil {
			return nil
		}
		if to < from {
			return apierr.InvalidRange("The lower boundary must be lower than or equal to the upper boundary in the Range header.")
		}
		n := to - from + 1
		limit = &n
	}
	// Intersect the header range with limit/offset from the query.
	start := rg.Offset
	if from > start {
		start = from
	}
	var end *int64 // exclusive
	if rg.Limit != nil {
		e := rg.Offset + *rg.Limit
		end = &e
	}
	if limit != nil {
		e := from + *limit
		if end == nil || e < *end {
			end = &e
		}
	}
	rg.Offset = start
	if end != nil {
		n := *end - start
		if n < 0 {
			n = 0
		}
		rg.Limit = &n
	}
	return nil
}

// rootRange returns the root Range, adding one if absent.
func rootRange(req *Request) *Range {
	return pathRange(req, nil)
}

func pathRange(req *Request, path []string) *Range {
	for i := range req.Ranges {
		if SamePath(req.Ranges[i].Path, path) {
			return &req.Ranges[i]
		}
	}
	req.Ranges = append(req.Ranges, Range{Path: path})
	return &req.Ranges[len(req.Ranges)-1]
}

// SamePath reports whether two embed paths are equal.
func SamePath(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
