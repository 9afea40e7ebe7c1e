package planner

import (
	"fmt"
	"math/rand"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/pgrest/pgrest/request"
)

// The memo answers a request with SQL compiled for an earlier request of the
// same key. If the key ever leaves out something the SQL depends on, one
// client gets another's statement (other filters, another shape). This test
// generates requests in pairs that differ only in values, and many that
// differ in shape, plans them through one shared memo, and checks every
// answer against a compilation from scratch: the SQL, the parameter count
// and the plan's metadata must be identical.

// genShape returns a request template: query-string pairs and headers whose
// values are drawn by v, so the same template yields requests of one shape.
type genShape struct {
	method  string
	query   []func(v func(string) string) string
	headers map[string]string
}

var (
	genColumns   = []string{"id", "name", "owner_id", "data"}
	genOps       = []string{"eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "match", "imatch", "isdistinct", "cs", "cd", "ov"}
	genAccept    = []string{"", "application/json", "text/csv", "application/vnd.pgrst.object+json", "application/vnd.pgrst.array+json;nulls=stripped", "application/vnd.pgrst.object+json;nulls=stripped", "application/vnd.pgrst.plan+json", "application/vnd.pgrst.plan+text", "application/vnd.pgrst.plan+text;options=analyze|verbose", "application/vnd.pgrst.plan+text;options=buffers", "application/vnd.pgrst.plan;for=\"application/json\"", "application/vnd.pgrst.plan;for=\"text/csv\"", "application/vnd.pgrst.plan+json;for=\"application/vnd.pgrst.object+json\"", "application/geo+json", "text/plain", "application/octet-stream", "*/*"}
	genPrefer    = []string{"", "count=exact", "count=planned", "count=estimated", "handling=strict", "timezone=UTC", "return=representation", "count=exact, handling=lenient"}
	genJSONPaths = []string{"->a", "->>a", "->0", "->a->>b", "->a->1", "->>0", "->-1", "->+1", "->a-b->>c", `->"k.1"`}
	genCasts     = []string{"", "::text", "::int", "::character varying"}
	genEmbeds    = []string{"owners", "notes"}
)

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.Intn(len(xs))] }

// genFilterKey is a column with an optional JSON path.
func genFilterKey(r *rand.Rand) string {
	c := pick(r, genColumns)
	if c == "data" && r.Intn(2) == 0 {
		c += pick(r, genJSONPaths)
	}
	return c
}

// genOperation returns an operation whose values come from v.
func genOperation(r *rand.Rand) func(v func(string) string) string {
	neg := ""
	if r.Intn(5) == 0 {
		neg = "not."
	}
	switch r.Intn(8) {
	case 0:
		is := pick(r, []string{"null", "true", "false", "unknown"})
		return func(func(string) string) string { return neg + "is." + is }
	case 1:
		n := 1 + r.Intn(3)
		return func(v func(string) string) string {
			items := make([]string, n)
			for i := range items {
				items[i] = v("in")
			}
			return neg + "in.(" + strings.Join(items, ",") + ")"
		}
	case 2:
		q := pick(r, []string{"any", "all"})
		op := pick(r, []string{"eq", "like", "gt"})
		return func(v func(string) string) string { return neg + op + "(" + q + ").{" + v("a") + "," + v("b") + "}" }
	case 3:
		op := pick(r, []string{"fts", "plfts", "phfts", "wfts"})
		lang := ""
		if r.Intn(2) == 0 {
			lang = "(english)"
		}
		return func(v func(string) string) string { return neg + op + lang + "." + v("w") }
	default:
		op := pick(r, genOps)
		return func(v func(string) string) string { return neg + op + "." + v("x") }
	}
}

// genLogic is an or/and tree of filters, nested up to depth.
func genLogic(r *rand.Rand, depth int) func(v func(string) string) string {
	n := 1 + r.Intn(3)
	parts := make([]func(v func(string) string) string, n)
	for i := range parts {
		if depth > 0 && r.Intn(3) == 0 {
			kw := pick(r, []string{"or", "and", "not.or", "not.and"})
			inner := genLogic(r, depth-1)
			parts[i] = func(v func(string) string) string { return kw + inner(v) }
			continue
		}
		col, op := pick(r, []string{"id", "name"}), genOperation(r)
		parts[i] = func(v func(string) string) string { return col + "." + op(v) }
	}
	return func(v func(string) string) string {
		out := make([]string, len(parts))
		for i, p := range parts {
			out[i] = p(v)
		}
		return "(" + strings.Join(out, ",") + ")"
	}
}

// genSelect is a select list with columns, aliases, casts, JSON paths,
// aggregates and embeds (spread, inner, nested).
func genSelect(r *rand.Rand, depth int) string {
	n := 1 + r.Intn(3)
	items := make([]string, 0, n)
	for i := 0; i < n; i++ {
		switch r.Intn(6) {
		case 0:
			items = append(items, "*")
		case 1:
			items = append(items, pick(r, []string{"", "al:"})+"data"+pick(r, genJSONPaths)+pick(r, genCasts))
		case 2:
			items = append(items, pick(r, []string{"count()", "id.count()", "id.sum()", "id.max()::text", "c:count()"}))
		case 3:
			if depth > 0 {
				e := pick(r, genEmbeds)
				prefix := pick(r, []string{"", "x:", "..."})
				if prefix == "..." && e == "notes" {
					prefix = ""
				}
				items = append(items, prefix+e+pick(r, []string{"", "!inner", "!left"})+"("+genSelect(r, depth-1)+")")
				continue
			}
			fallthrough
		default:
			items = append(items, pick(r, []string{"", "a:", "b:"})+pick(r, []string{"id", "name"})+pick(r, genCasts))
		}
	}
	return strings.Join(items, ",")
}

func genTemplate(r *rand.Rand) genShape {
	s := genShape{method: pick(r, []string{"GET", "GET", "HEAD"}), headers: map[string]string{}}
	add := func(f func(v func(string) string) string) { s.query = append(s.query, f) }
	if r.Intn(4) != 0 {
		sel := genSelect(r, 2)
		add(func(func(string) string) string { return "select=" + url.QueryEscape(sel) })
	}
	for i, n := 0, r.Intn(4); i < n; i++ {
		prefix := pick(r, []string{"", "", "notes.", "owners."})
		key, op := genFilterKey(r), genOperation(r)
		if prefix != "" {
			key = pick(r, []string{"id", "name"})
		}
		add(func(v func(string) string) string { return url.QueryEscape(prefix+key) + "=" + url.QueryEscape(op(v)) })
	}
	if r.Intn(3) == 0 {
		kw, tree := pick(r, []string{"or", "and", "not.or", "notes.or"}), genLogic(r, 2)
		add(func(v func(string) string) string { return kw + "=" + url.QueryEscape(tree(v)) })
	}
	if r.Intn(2) == 0 {
		o := pick(r, []string{"id", "name.desc", "name.asc.nullslast", "id.desc.nullsfirst,name", "data->a.desc", "owners(name).desc"})
		add(func(func(string) string) string { return "order=" + url.QueryEscape(o) })
	}
	if r.Intn(3) == 0 {
		lim, off, scope := 1+r.Intn(3), r.Intn(3)-1, pick(r, []string{"", "notes."})
		add(func(func(string) string) string { return fmt.Sprintf("%slimit=%d&%soffset=%d", scope, lim, scope, off) })
	}
	if r.Intn(6) == 0 { // ignored, as PostgREST ignores a limit that is not an integer
		add(func(func(string) string) string { return "limit=many" })
	}
	if a := pick(r, genAccept); a != "" {
		s.headers["Accept"] = a
	}
	if p := pick(r, genPrefer); p != "" {
		s.headers["Prefer"] = p
	}
	return s
}

// instance draws values for a template; seed picks which values.
func (s genShape) instance(seed int64) (method, query string, headers map[string]string) {
	vr := rand.New(rand.NewSource(seed))
	v := func(kind string) string {
		pool := []string{"1", "2", "17", "abc", "x*y", "'; drop table t; --", "", "NULL", "ü", "{1,2}", "[1,3)", "{\"k\":1}"}
		return kind[:0] + pick(vr, pool)
	}
	parts := make([]string, len(s.query))
	for i, q := range s.query {
		parts[i] = q(v)
	}
	return s.method, strings.Join(parts, "&"), s.headers
}

func planOf(t *testing.T, m *Memo, method, query string, headers map[string]string, opts Options) (*Plan, bool) {
	t.Helper()
	r := httptest.NewRequest(method, "/items", nil)
	r.URL.RawQuery = query
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	req, aerr := request.Parse(r, request.Options{Schemas: []string{"public"}})
	if aerr != nil {
		return nil, false
	}
	p, err := m.Plan(req, testSnapshot(), opts)
	if err != nil {
		return nil, false
	}
	return p, true
}

// variants are the template with one header, the method or the options
// swapped: shapes that differ in exactly one thing the key must see.
func variants(base genShape, opts []Options) []struct {
	s genShape
	o Options
} {
	var out []struct {
		s genShape
		o Options
	}
	with := func(k, v string) genShape {
		n := base
		n.headers = map[string]string{}
		for hk, hv := range base.headers {
			n.headers[hk] = hv
		}
		if v == "" {
			delete(n.headers, k)
		} else {
			n.headers[k] = v
		}
		return n
	}
	for _, o := range opts {
		for _, a := range genAccept {
			out = append(out, struct {
				s genShape
				o Options
			}{with("Accept", a), o})
		}
		for _, p := range genPrefer {
			out = append(out, struct {
				s genShape
				o Options
			}{with("Prefer", p), o})
		}
		head := base
		head.method = "HEAD"
		out = append(out, struct {
			s genShape
			o Options
		}{head, o})
	}
	return out
}

func TestMemoKeyDeterminesSQL(t *testing.T) {
	r := rand.New(rand.NewSource(20261130))
	shared := New(1 << 16)
	maxRows := int64(7)
	optionSets := []Options{{}, {AggregatesEnabled: true}, {MaxRows: &maxRows, PlanEnabled: true, AggregatesEnabled: true, LegacyTargetNames: true},
		{PlanEnabled: true, LegacyTargetNames: true}}
	compared := 0
	for i := 0; i < 150; i++ {
		for j, v := range variants(genTemplate(r), optionSets) {
			for seed := int64(0); seed < 2; seed++ {
				method, query, headers := v.s.instance(int64(i)*1000 + int64(j)*2 + seed)
				hitsBefore := shared.Hits()
				got, ok := planOf(t, shared, method, query, headers, v.o)
				if !ok || shared.Hits() == hitsBefore {
					continue
				}
				want, ok := planOf(t, New(16), method, query, headers, v.o)
				if !ok {
					t.Fatalf("a memo hit for a request that fails on its own: %s ?%s %v", method, query, headers)
				}
				compared++
				gotArgs, wantArgs := len(got.Args), len(want.Args)
				g, w := *got, *want
				g.Args, w.Args = nil, nil
				if fmt.Sprintf("%#v", g) != fmt.Sprintf("%#v", w) || gotArgs != wantArgs {
					t.Fatalf("memo answered with another shape's plan for %s ?%s %v %+v\nmemo:  %#v (%d args)\nfresh: %#v (%d args)",
						method, query, headers, v.o, g, gotArgs, w, wantArgs)
				}
				if fmt.Sprint(got.Args) != fmt.Sprint(want.Args) {
					t.Fatalf("bind values differ for %s ?%s: memo %v, fresh %v", method, query, got.Args, want.Args)
				}
			}
		}
	}
	t.Logf("%d memo hits compared", compared)
	if compared < 1000 {
		t.Fatalf("only %d memo hits compared; the generator no longer produces valid requests", compared)
	}
}
