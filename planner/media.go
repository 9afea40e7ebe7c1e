package planner

import (
	"slices"
	"strconv"
	"strings"

	"github.com/pgrest/pgrest/apierr"
	"github.com/pgrest/pgrest/cache"
	"github.com/pgrest/pgrest/request"
)

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

// media is the negotiated output: how the body is built in SQL.
type media struct {
	contentType string
	singular    bool
	stripNulls  bool
	csv         bool
	explain     string
	// scalar: rows are single values (pgrst_scalar), rendered as JSON values.
	scalar bool
	// unwrap: a function returning one value or row answers with it, not
	// with an array.
	unwrap bool
	// handler is the aggregate rendering the rows (a media type handler);
	// rowType is the relation its input is cast to ("" for anyelement).
	handler *cache.MediaHandler
	rowType string
	// raw: the body is the function's own result (a handler function).
	raw    bool
	binary bool
	xml    bool
	// geo is the PostGIS schema for application/geo+json.
	geo string
	// ndjson: one JSON line per row, streamed (planner/stream.go).
	ndjson bool
}

// json reports whether the body is builtin JSON.
func (m *media) json() bool {
	return !m.csv && m.handler == nil && !m.raw && m.geo == ""
}

// offer is what a request's resource can be rendered as beyond the
// builtin types: aggregates over its rows, and for a call, the function's
// own media type.
type offer struct {
	handlers []cache.MediaHandler
	rel      *cache.Relation
	fn       *cache.Function
	postgis  string
}

// wholeRows reports a select that keeps the rows as they are (none, or *).
func wholeRows(items []request.SelectItem) bool {
	return len(items) == 0 || (len(items) == 1 && items[0].Embed == nil && items[0].Field.Name == "*" && items[0].Cast == "")
}

func offerFor(snap *cache.Snapshot, req *request.Request, rel *cache.Relation, fn *cache.Function) offer {
	o := offer{rel: rel, fn: fn, postgis: snap.PostGIS}
	if rel != nil && (fn == nil || fn.ReturnKind == cache.ReturnsComposite) {
		o.handlers = snap.Handlers(rel.QI())
		if !wholeRows(req.Select) {
			// Rows shaped by select= are no longer of the relation's type:
			// only handlers taking any element apply.
			var anyElem []cache.MediaHandler
			for _, h := range o.handlers {
				if h.Relation == (cache.QI{}) {
					anyElem = append(anyElem, h)
				}
			}
			o.handlers = anyElem
		}
	}
	return o
}

// handler finds the aggregate for a media type ("*/*" for the any handler).
func (o offer) handler(mt string) *media {
	for i := range o.handlers {
		h := &o.handlers[i]
		if h.MediaType != mt {
			continue
		}
		m := &media{contentType: withCharset(mt), handler: h, binary: h.Binary}
		if h.Relation != (cache.QI{}) {
			m.rowType = ident(h.Relation.Schema) + "." + ident(h.Relation.Name)
		}
		return m
	}
	return nil
}

func negotiate(req *request.Request, opts Options, o offer) (*media, error) {
	return negotiateAmong(req.Accept, req.Headers["accept"], opts, o)
}

// negotiateAmong picks the first of accept (best first) the resource can
// be rendered as; header is the Accept header named in the 406.
func negotiateAmong(accept []request.MediaType, header string, opts Options, o offer) (*media, error) {
	for _, mt := range accept {
		t := mt.Type + "/" + mt.Subtype
		strip := mt.Params["nulls"] == "stripped"
		switch t {
		// PostgREST writes the nulls parameter back without a space, and
		// an array without it is plain JSON.
		case "application/vnd.pgrst.object+json", "application/vnd.pgrst.object":
			ct := "application/vnd.pgrst.object+json; charset=utf-8"
			if strip {
				ct = "application/vnd.pgrst.object+json;nulls=stripped; charset=utf-8"
			}
			return &media{contentType: ct, singular: true, stripNulls: strip}, nil
		case "application/vnd.pgrst.array+json", "application/vnd.pgrst.array":
			ct := "application/json; charset=utf-8"
			if strip {
				ct = "application/vnd.pgrst.array+json;nulls=stripped; charset=utf-8"
			}
			return &media{contentType: ct, stripNulls: strip}, nil
		case "application/vnd.pgrst.plan", "application/vnd.pgrst.plan+json", "application/vnd.pgrst.plan+text":
			if !opts.PlanEnabled {
				continue
			}
			return planMedia(mt, header, opts, o)
		}
		// A handler defined in the database wins over a builtin type. An
		// Accept of */* (or none) still means JSON for relations: the any
		// handler serves the types nothing else does.
		if t != "*/*" {
			if m := o.handler(t); m != nil {
				return m, nil
			}
		}
		// Only a function returning one value of a media type domain is
		// that media type's handler; a set of them is not.
		if f := o.fn; f != nil && f.MediaType != "" && !f.ReturnsSet && (f.MediaType == t || t == "*/*" || f.MediaType == "*/*") {
			ct := f.MediaType
			if ct == "*/*" {
				ct = anyHandlerType
			}
			return &media{contentType: withCharset(ct), raw: true, binary: f.Binary, xml: ct == "text/xml"}, nil
		}
		switch t {
		case "*/*", "application/*", "application/json":
			return &media{contentType: "application/json; charset=utf-8"}, nil
		case "text/csv":
			return &media{contentType: "text/csv; charset=utf-8", csv: true}, nil
		case "application/x-ndjson", "application/jsonl":
			return &media{contentType: t, ndjson: true, stripNulls: strip}, nil
		case "application/geo+json":
			if o.postgis != "" && (o.fn == nil || o.fn.ReturnKind == cache.ReturnsComposite) {
				return &media{contentType: "application/geo+json; charset=utf-8", geo: o.postgis}, nil
			}
		}
		if m := o.handler("*/*"); m != nil {
			m.contentType = anyHandlerType
			return m, nil
		}
	}
	return nil, apierr.NotAcceptable(header)
}

// planOptions are the EXPLAIN options a plan media type may ask for, in
// the order PostgREST writes them back.
var planOptions = []string{"analyze", "verbose", "settings", "buffers", "wal"}

// planMedia is application/vnd.pgrst.plan: the body the for="..." media
// type would get (application/json by default), explained instead of run.
func planMedia(mt request.MediaType, header string, opts Options, o offer) (*media, error) {
	inner := request.MediaType{Type: "application", Subtype: "json", Params: map[string]string{}}
	if f := mt.Params["for"]; f != "" {
		fields := strings.Split(f, ";")
		typ, sub, _ := strings.Cut(strings.ToLower(strings.TrimSpace(fields[0])), "/")
		inner = request.MediaType{Type: typ, Subtype: sub, Params: map[string]string{}}
		for _, p := range fields[1:] {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			inner.Params[strings.ToLower(k)] = v
		}
	}
	if strings.HasPrefix(inner.Subtype, "vnd.pgrst.plan") {
		return nil, apierr.NotAcceptable(header)
	}
	m, err := negotiateAmong([]request.MediaType{inner}, header, opts, o)
	if err != nil {
		return nil, err
	}
	format := "text"
	if mt.Subtype == "vnd.pgrst.plan+json" {
		format = "json"
	}
	ex := "FORMAT " + strings.ToUpper(format)
	var chosen []string
	asked := strings.Split(mt.Params["options"], "|")
	for _, opt := range planOptions {
		if slices.Contains(asked, opt) {
			chosen = append(chosen, opt)
			ex += ", " + strings.ToUpper(opt)
		}
	}
	ct := "application/vnd.pgrst.plan+" + format + "; for=\"" + strings.TrimSuffix(m.contentType, "; charset=utf-8") + "\""
	if len(chosen) > 0 {
		ct += "; options=" + strings.Join(chosen, "|")
	}
	m.contentType = ct + "; charset=utf-8"
	m.explain = ex
	return m, nil
}

// anyHandlerType is the Content-Type of what a */* handler produces
// (the handler may set another one through response.headers).
const anyHandlerType = "application/octet-stream"

// withCharset is the Content-Type PostgREST sends for a handler's media
// type: the types it knows carry the charset, others go as they are.
func withCharset(mt string) string {
	switch mt {
	case "application/json", "application/geo+json", "text/csv", "text/plain", "text/xml",
		"application/openapi+json", "application/x-www-form-urlencoded":
		return mt + "; charset=utf-8"
	}
	return mt
}

// body returns the SQL expressions that aggregate the page rows
// (_postgrest_t) into the response body: as text, or as bytes for binary
// media types (the other one is NULL).
func (m *media) body(names []string) (text, bytes string) {
	text, bytes = "NULL::text", "NULL::bytea"
	row := "_postgrest_t"
	if m.stripNulls {
		row = "json_strip_nulls(row_to_json(_postgrest_t))"
	}
	if m.scalar {
		row = "_postgrest_t.pgrst_scalar"
	}
	var expr string
	// JSON bodies stay json, as PostgREST writes them (their plans show
	// the same output expressions); everything else is read as text.
	typed := false
	switch {
	case m.handler != nil:
		arg := "_postgrest_t"
		if m.rowType != "" {
			arg += "::" + m.rowType
		}
		expr = ident(m.handler.Function.Schema) + "." + ident(m.handler.Function.Name) + "(" + arg + ")"
	case m.raw && m.xml:
		// Left as xml: its output function drops the first newline, as
		// PostgREST's response shows.
		expr, typed = "xmlagg(_postgrest_t.pgrst_scalar)", true
	case m.raw && m.binary:
		expr = "string_agg(_postgrest_t.pgrst_scalar::bytea, ''::bytea)"
	case m.raw:
		expr = "string_agg(_postgrest_t.pgrst_scalar::text, '')"
	case m.geo != "":
		expr = "json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(" +
			ident(m.geo) + ".st_asgeojson(_postgrest_t)::json), '[]'))"
		typed = true
	case m.unwrap && !m.csv:
		expr = "coalesce((json_agg(" + row + ")->0)::text, 'null')"
	case m.csv:
		// PostgREST's text/csv: a header line of the first row's keys as
		// they are (none when there is no row, leaving a lone newline),
		// then each row as PostgreSQL's record output without its
		// parentheses: a field is double-quoted when it holds a comma,
		// quote, backslash, parenthesis or whitespace, or is empty; arrays
		// and composites keep their text form.
		expr = "CASE WHEN pg_catalog.count(*) = 0 THEN '' ELSE " + quoteLit(strings.Join(names, ",")) + " END" +
			" || E'\\n' || coalesce(string_agg(substring(_postgrest_t::text, 2, length(_postgrest_t::text) - 2), E'\\n'), '')"
	case m.singular:
		expr, typed = "coalesce(json_agg("+row+")->0, 'null')", true
	default:
		expr, typed = "coalesce(json_agg("+row+"), '[]')", true
	}
	switch {
	case m.binary:
		return text, expr
	case typed:
		return expr, bytes
	}
	return "(" + expr + ")::text", bytes
}

// quoteLit quotes a column name (from the schema cache, not the client)
// as a string literal.
func quoteLit(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
