package planner

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/pgrest/pgrest/apierr"
	"github.com/pgrest/pgrest/request"
)

// FuzzBatch drives batch bodies through the batch reader, reference
// resolution (against earlier results full of SQL-looking text), the
// request parser and the planner: nothing panics, every failure is a 4xx
// API error, and no value reaches the SQL outside a bind parameter.
func FuzzBatch(f *testing.F) {
	for _, seed := range []string{
		`[{"method": "GET", "path": "/items?select=id,owners(name)&id=eq.1"}]`,
		`[{"method": "POST", "path": "/items", "headers": {"Prefer": "return=representation"}, "body": {"id": 1, "name": "a"}},
		  {"method": "PATCH", "path": "/items?id=eq.${/0/body/0/id}", "body": {"name": {"$ref": "/0/body/0/name"}}}]`,
		`[{"method": "DELETE", "path": "/notes?item_id=eq.$%7B/0/body/0/name%7D"}, {"method": "PUT", "path": "/owners?id=eq.1", "body": {"id": 1, "name": {"$ref": "/0/headers/X"}}}]`,
		`[{"method": "GET", "path": "/items?name=eq.%24%7B/0/status%7D&order=${/0/body/0/name}"}]`,
		`[{"method": "POST", "path": "/items", "body": [{"data": {"$ref": "/0/body"}}, {"$ref": "/1/~0~1"}]}]`,
		`[{"method": "GET", "path": "/items", "headers": {"Range": "0-1", "Accept": "text/csv", "Prefer": "count=exact"}}]`,
		`[{"method": "GET", "path": "/items"}, {"method": "GET", "path": "/items?name=eq.İİ${/0/status}ȺȺ"}]`,
	} {
		f.Add(seed)
	}
	snap := testSnapshot()
	m := New(64)
	const maxOps = 8
	// Every earlier result carries values that would break SQL if spliced.
	earlier := map[string]any{
		"status":  json.Number("201"),
		"headers": map[string]any{"X": "x'); drop table items; --"},
		"body":    []any{map[string]any{"id": "1 or 1=1; --", "name": "o'brien\"; select 1; --"}},
	}
	results := make([]any, maxOps)
	for i := range results {
		results[i] = earlier
	}
	f.Fuzz(func(t *testing.T, body string) {
		ops, _, perr := request.ParseBatch([]byte(body), maxOps)
		if perr != nil {
			clientError(t, apierr.As(perr))
			return
		}
		for k := range ops {
			op := &ops[k]
			if op.HasRefs() {
				var rerr error
				if op, rerr = op.Resolve(k, results); rerr != nil {
					clientError(t, apierr.As(rerr))
					continue
				}
			}
			hr, herr := op.HTTPRequest(k)
			if herr != nil {
				clientError(t, apierr.As(herr))
				continue
			}
			req, perr := request.Parse(hr, request.Options{Schemas: []string{"public"}})
			if perr != nil {
				clientError(t, apierr.As(perr))
				continue
			}
			p, err := m.Plan(req, snap, Options{AggregatesEnabled: true})
			if err != nil {
				if _, ok := err.(*apierr.Error); !ok {
					t.Fatalf("planner returned a non-API error: %v", err)
				}
				continue
			}
			onlyBound(t, p)
		}
	})
}

func clientError(t *testing.T, e *apierr.Error) {
	t.Helper()
	if e.Status < 400 || e.Status >= 500 {
		t.Fatalf("error with status %d: %v", e.Status, e)
	}
}

// onlyBound fails when a bind value also appears in the SQL text outside
// quoted identifiers, or the SQL holds a statement separator.
func onlyBound(t *testing.T, p *Plan) {
	t.Helper()
	rest := quotedIdent.ReplaceAllString(p.SQL, " ")
	for _, arg := range p.Args {
		s, ok := arg.(string)
		if ok && len(s) >= 4 && strings.ContainsAny(s, "';-") && strings.Contains(rest, s) {
			t.Fatalf("value %q appears in SQL outside parameters:\n%s", s, p.SQL)
		}
	}
	if strings.Contains(rest, ";") {
		t.Fatalf("statement separator in SQL:\n%s", p.SQL)
	}
}
