package planner

import (
	"net/http"
	"strconv"
	"strings"

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
}

func negotiate(req *request.Request, opts Options) (*media, error) {
	for _, mt := range req.Accept {
		t := mt.Type + "/" + mt.Subtype
		strip := mt.Params["nulls"] == "stripped"
		switch t {
		case "*/*", "application/*", "application/json":
			return &media{contentType: "application/json; charset=utf-8"}, nil
		case "text/csv":
			return &media{contentType: "text/csv; charset=utf-8", csv: true}, nil
		case "application/vnd.pgrst.object+json", "application/vnd.pgrst.object":
			ct := "application/vnd.pgrst.object+json; charset=utf-8"
			if strip {
				ct = "application/vnd.pgrst.object+json; nulls=stripped; charset=utf-8"
			}
			return &media{contentType: ct, singular: true, stripNulls: strip}, nil
		case "application/vnd.pgrst.array+json", "application/vnd.pgrst.array":
			ct := "application/vnd.pgrst.array+json; charset=utf-8"
			if strip {
				ct = "application/vnd.pgrst.array+json; nulls=stripped; charset=utf-8"
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
	}
	accept := req.Headers["accept"]
	return nil, apierr.New(http.StatusNotAcceptable, "PGRST107", "None of these media types are available: "+accept, "", "")
}

// body is the SQL expression that aggregates the page rows (_pgrest_t)
// into the response body.
func (m *media) body(names []string) string {
	row := "_pgrest_t"
	if m.stripNulls {
		row = "json_strip_nulls(row_to_json(_pgrest_t))"
	}
	if m.scalar {
		row = "_pgrest_t.pgrst_scalar"
	}
	switch {
	case m.unwrap && !m.csv:
		return "coalesce((json_agg(" + row + ")->0)::text, 'null')"
	case m.csv:
		// Header row, then one line per row with PostgREST's quoting:
		// values holding a comma, quote or newline are double-quoted.
		var header, fields []string
		for _, n := range names {
			header = append(header, csvQuoteIdent(n))
			v := "(row_to_json(_pgrest_t)->>" + quoteLit(n) + ")"
			fields = append(fields, "coalesce(CASE WHEN "+v+" ~ '[,\"\\n\\r]' THEN '\"' || replace("+v+", '\"', '\"\"') || '\"' ELSE "+v+" END, '')")
		}
		return quoteLit(strings.Join(header, ",")) + " || coalesce(string_agg(E'\\n' || " + strings.Join(fields, " || ',' || ") + ", ''), '')"
	case m.singular:
		return "coalesce((json_agg(" + row + ")->0)::text, '')"
	}
	return "coalesce(json_agg(" + row + "), '[]')::text"
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
