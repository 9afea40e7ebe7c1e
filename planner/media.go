package planner

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/pgrest/pgrest/cache"
	"github.com/pgrest/pgrest/server/apierr"
	"github.com/pgrest/pgrest/server/request"
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
	// geo is the PostGIS schema for application/geo+json.
	geo string
}

// json reports whether the body is builtin JSON.
func (m *media) json() bool {
	return !m.csv && m.handler == nil && !m.raw && m.geo == "" && m.explain == ""
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

func (c *compiler) offerFor(rel *cache.Relation, fn *cache.Function) offer {
	o := offer{rel: rel, fn: fn, postgis: c.snap.PostGIS}
	if rel != nil && (fn == nil || fn.ReturnKind == cache.ReturnsComposite) {
		o.handlers = c.snap.Handlers(rel.QI())
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
	for _, mt := range req.Accept {
		t := mt.Type + "/" + mt.Subtype
		strip := mt.Params["nulls"] == "stripped"
		switch t {
		case "application/vnd.pgrst.object+json", "application/vnd.pgrst.object":
			ct := "application/vnd.pgrst.object+json; charset=utf-8"
			if strip {
				ct = "application/vnd.pgrst.object+json;nulls=stripped; charset=utf-8"
			}
			return &media{contentType: ct, singular: true, stripNulls: strip}, nil
		case "application/vnd.pgrst.array+json", "application/vnd.pgrst.array":
			ct := "application/vnd.pgrst.array+json; charset=utf-8"
			if strip {
				ct = "application/vnd.pgrst.array+json;nulls=stripped; charset=utf-8"
			}
			return &media{contentType: ct, stripNulls: strip}, nil
		case "application/vnd.pgrst.plan", "application/vnd.pgrst.plan+json", "application/vnd.pgrst.plan+text":
			if !opts.PlanEnabled {
				continue
			}
			format := "TEXT"
			ct := "application/vnd.pgrst.plan+text; charset=utf-8"
			if mt.Subtype == "vnd.pgrst.plan+json" {
				format, ct = "JSON", "application/vnd.pgrst.plan+json; charset=utf-8"
			}
			ex := "FORMAT " + format
			for _, o := range strings.Split(mt.Params["options"], "|") {
				switch o {
				case "analyze", "verbose", "settings", "buffers", "wal":
					ex += ", " + strings.ToUpper(o)
				}
			}
			return &media{contentType: ct, explain: ex}, nil
		}
		// A handler defined in the database wins over a builtin type. An
		// Accept of */* (or none) still means JSON for relations: the any
		// handler serves the types nothing else does.
		if t != "*/*" {
			if m := o.handler(t); m != nil {
				return m, nil
			}
		}
		if f := o.fn; f != nil && f.MediaType != "" && (f.MediaType == t || t == "*/*" || f.MediaType == "*/*") {
			ct := f.MediaType
			if ct == "*/*" {
				ct = concrete(t)
			}
			return &media{contentType: withCharset(ct), raw: true, binary: f.Binary}, nil
		}
		switch t {
		case "*/*", "application/*", "application/json":
			return &media{contentType: "application/json; charset=utf-8"}, nil
		case "text/csv":
			return &media{contentType: "text/csv; charset=utf-8", csv: true}, nil
		case "application/geo+json":
			if o.postgis != "" && (o.fn == nil || o.fn.ReturnKind == cache.ReturnsComposite) {
				return &media{contentType: "application/geo+json; charset=utf-8", geo: o.postgis}, nil
			}
		}
		if m := o.handler("*/*"); m != nil {
			m.contentType = withCharset(concrete(t))
			return m, nil
		}
	}
	accept := req.Headers["accept"]
	return nil, apierr.New(http.StatusNotAcceptable, "PGRST107", "None of these media types are available: "+accept, "", "")
}

// withCharset adds the charset PostgREST writes after the media types it
// knows by name; others (and octet-stream) go out as they are.
func withCharset(mt string) string {
	switch mt {
	case "application/json", "application/geo+json", "text/csv", "text/plain", "text/xml",
		"application/openapi+json", "application/vnd.pgrst.object+json", "application/x-www-form-urlencoded":
		return mt + "; charset=utf-8"
	}
	return mt
}

// concrete is the Content-Type an any handler answers an Accept entry
// with: the entry itself, or application/octet-stream for a wildcard.
func concrete(accept string) string {
	if strings.Contains(accept, "*") {
		return "application/octet-stream"
	}
	return accept
}

// body returns the SQL expressions that aggregate the page rows
// (_pgrest_t) into the response body: as text, or as bytes for binary
// media types (the other one is NULL).
func (m *media) body(names []string) (text, bytes string) {
	text, bytes = "NULL::text", "NULL::bytea"
	row := "_pgrest_t"
	if m.stripNulls {
		row = "json_strip_nulls(row_to_json(_pgrest_t))"
	}
	if m.scalar {
		row = "_pgrest_t.pgrst_scalar"
	}
	var expr string
	switch {
	case m.handler != nil:
		arg := "_pgrest_t"
		if m.rowType != "" {
			arg += "::" + m.rowType
		}
		expr = ident(m.handler.Function.Schema) + "." + ident(m.handler.Function.Name) + "(" + arg + ")"
	case m.raw && m.binary:
		expr = "string_agg(_pgrest_t.pgrst_scalar::bytea, ''::bytea)"
	case m.raw:
		expr = "string_agg(_pgrest_t.pgrst_scalar::text, '')"
	case m.geo != "":
		expr = "json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(" +
			ident(m.geo) + ".st_asgeojson(_pgrest_t)::json), '[]'))"
	case m.unwrap && !m.csv:
		expr = "coalesce((json_agg(" + row + ")->0)::text, 'null')"
	case m.csv:
		// Header row, then one line per row with PostgREST's quoting:
		// values holding a comma, quote or newline are double-quoted.
		var header, fields []string
		for _, n := range names {
			header = append(header, csvQuoteIdent(n))
			v := "(row_to_json(_pgrest_t)->>" + quoteLit(n) + ")"
			fields = append(fields, "coalesce(CASE WHEN "+v+" ~ '[,\"\\n\\r]' THEN '\"' || replace("+v+", '\"', '\"\"') || '\"' ELSE "+v+" END, '')")
		}
		expr = quoteLit(strings.Join(header, ",")) + " || coalesce(string_agg(E'\\n' || " + strings.Join(fields, " || ',' || ") + ", ''), '')"
	case m.singular:
		expr = "coalesce((json_agg(" + row + ")->0)::text, '')"
	default:
		expr = "coalesce(json_agg(" + row + "), '[]')"
	}
	if m.binary {
		return text, expr
	}
	return "(" + expr + ")::text", bytes
}

// quoteLit quotes a column name (from the schema cache, not the client)
// as a string literal.
func quoteLit(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func csvQuoteIdent(s string) string {
	if strings.ContainsAny(s, ",\"\n\r") {
		return "\"" + strings.ReplaceAll(s, "\"", "\"\"") + "\""
	}
	return s
}
