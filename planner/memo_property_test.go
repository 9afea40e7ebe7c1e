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
// generates reads, writes (payload key sets drawn with the values, so one
// template yields several payload shapes) and RPC calls, in pairs that
// differ only in values and in many that differ in shape, plans them
// through one shared memo, and checks every answer against a compilation
// from scratch: the SQL, the parameter count and the plan's metadata must
// be identical, and the bind values equal.

// genShape returns a request template: query-string pairs and headers whose
// values are drawn by v, so the same template yields requests of one shape.
type genShape struct {
	method  string
	path    string // "/items" when ""
	query   []func(v func(string) string) string
	body    func(v func(string) string) string // nil: none
	headers map[string]string
}

// genReq is one request drawn from a template.
type genReq struct {
	method, path, query, body string
	headers                   map[string]string
}

var (
	genColumns = []string{"id", "name", "owner_id", "data"}
	genOps     = []string{"eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "match", "imatch", "isdistinct", "cs", "cd", "ov"}
	genAccept  = []string{"", "application/json", "text/csv", "application/vnd.pgrst.object+json", "application/vnd.pgrst.array+json;nulls=stripped", "application/vnd.pgrst.object+json;nulls=stripped", "application/vnd.pgrst.plan+json", "application/vnd.pgrst.plan+text", "application/vnd.pgrst.plan+text;options=analyze|verbose", "application/vnd.pgrst.plan+text;options=buffers", "application/vnd.pgrst.plan;for=\"application/json\"", "application/vnd.pgrst.plan;for=\"text/csv\"", "application/vnd.pgrst.plan+json;for=\"application/vnd.pgrst.object+json\"", "application/geo+json", "text/plain", "application/octet-stream", "*/*"}
	genPrefer  = []string{"", "count=exact", "count=planned", "count=estimated", "handling=strict", "timezone=UTC", "return=representation", "count=exact, handling=lenient",
		"return=minimal", "return=headers-only", "resolution=merge-duplicates", "resolution=ignore-duplicates, return=representation", "missing=default", "return=representation, missing=default"}
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
	switch r.Intn(4) {
	case 0:
		return genWrite(r)
	case 1:
		return genCall(r)
	}
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

// genWriteKeys are payload key sets: rows of one template have these
// keys, so its requests share a shape and differ in values.
var genWriteKeys = [][]string{{"name"}, {"id", "name"}, {"name", "owner_id"}, {"id", "name", "owner_id", "data"}, {}}

// genRows is a JSON payload: one object, or an array of rows. With
// vary, the key sets are drawn with the values, so one template yields
// payloads of several shapes; rows differ in keys only when sparse
// (missing=default or columns=).
func genRows(r *rand.Rand, sparse bool) func(v func(string) string) string {
	n, sets := r.Intn(3), genWriteKeys
	object := n == 0 && r.Intn(2) == 0
	if object {
		n = 1
	}
	vary := r.Intn(2) == 0
	if sparse && r.Intn(2) == 0 {
		// rows that differ only in which of the columns they have
		n, object, vary, sets = 2+r.Intn(2), false, true, [][]string{{"name"}, {"id", "name"}}
	}
	fixed := make([][]string, n)
	for i := range fixed {
		fixed[i] = pick(r, genWriteKeys)
		if !sparse && i > 0 {
			fixed[i] = fixed[0]
		}
	}
	return func(v func(string) string) string {
		rows := fixed
		if vary {
			rows = make([][]string, n)
			for i := range rows {
				rows[i] = sets[len(v("k"))%len(sets)]
				if !sparse && i > 0 {
					rows[i] = rows[0]
				}
			}
		}
		objs := make([]string, len(rows))
		for i, keys := range rows {
			fields := make([]string, len(keys))
			for j, k := range keys {
				val := fmt.Sprintf("%q", v("b"))
				if k == "id" || k == "owner_id" {
					val = fmt.Sprint(len(v("n")))
				}
				fields[j] = fmt.Sprintf("%q:%s", k, val)
			}
			objs[i] = "{" + strings.Join(fields, ",") + "}"
		}
		if object {
			return objs[0]
		}
		return "[" + strings.Join(objs, ",") + "]"
	}
}

// genWrite is a POST, PATCH, PUT or DELETE with filters, a returned
// representation's select, columns=, on_conflict= and a payload.
func genWrite(r *rand.Rand) genShape {
	s := genShape{method: pick(r, []string{"POST", "POST", "PATCH", "PUT", "DELETE"}), headers: map[string]string{"Content-Type": "application/json"}}
	add := func(f func(v func(string) string) string) { s.query = append(s.query, f) }
	prefer := []string{pick(r, []string{"", "return=representation", "return=minimal", "return=headers-only"})}
	sparse := false
	switch s.method {
	case "PUT":
		// PUT names the row by its primary key, in the URL and the payload.
		add(func(func(string) string) string { return "id=eq.7" })
		body := pick(r, []string{`{"id":7,"name":"%s"}`, `[{"id":7,"name":"%s","owner_id":1}]`, `{"id":7,"data":{"a":"%s"}}`})
		s.body = func(v func(string) string) string { return fmt.Sprintf(body, strings.ReplaceAll(v("b"), `"`, "")) }
	case "POST":
		if r.Intn(2) == 0 {
			prefer = append(prefer, pick(r, []string{"resolution=merge-duplicates", "resolution=ignore-duplicates"}))
		}
		if r.Intn(3) == 0 {
			add(func(func(string) string) string { return "on_conflict=" + pick(r, []string{"id", "name"}) })
		}
		fallthrough
	case "PATCH":
		if r.Intn(3) == 0 {
			prefer, sparse = append(prefer, "missing=default"), true
		}
		if r.Intn(3) == 0 || sparse {
			cols := pick(r, []string{"id,name", "name", "name,owner_id,data"})
			add(func(func(string) string) string { return "columns=" + url.QueryEscape(cols) })
		}
		s.body = genRows(r, sparse)
	}
	if s.method != "PUT" {
		for i, n := 0, r.Intn(3); i < n; i++ {
			key, op := genFilterKey(r), genOperation(r)
			add(func(v func(string) string) string { return url.QueryEscape(key) + "=" + url.QueryEscape(op(v)) })
		}
	}
	if r.Intn(2) == 0 {
		sel := genSelect(r, 2)
		add(func(func(string) string) string { return "select=" + url.QueryEscape(sel) })
		if r.Intn(2) == 0 {
			add(func(v func(string) string) string { return "notes.id=" + url.QueryEscape(genOperation(r)(v)) })
		}
	}
	if s.method == "PATCH" || s.method == "DELETE" {
		if r.Intn(3) == 0 {
			add(func(func(string) string) string { return "order=id&limit=" + fmt.Sprint(1+r.Intn(3)) })
		}
	}
	if p := strings.Trim(strings.Join(prefer, ", "), ", "); p != "" {
		s.headers["Prefer"] = p
	}
	if a := pick(r, genAccept); a != "" {
		s.headers["Accept"] = a
	}
	return s
}

// genCall is a call of a set-returning or a volatile scalar function by
// GET (arguments in the query) or POST (a JSON object of them).
func genCall(r *rand.Rand) genShape {
	s := genShape{method: pick(r, []string{"GET", "POST", "POST", "HEAD"}), headers: map[string]string{}}
	add := func(f func(v func(string) string) string) { s.query = append(s.query, f) }
	fn, args := "search_items", pick(r, [][]string{{"q"}, {"q", "lim"}, {"lim", "q"}})
	if s.method == "POST" && r.Intn(2) == 0 {
		fn, args = "add_note", []string{"item_id", "body"}
	}
	s.path = "/rpc/" + fn
	value := func(name string, v func(string) string) string {
		if name == "lim" || name == "item_id" {
			return fmt.Sprint(len(v("n")))
		}
		return v("s")
	}
	if s.method == "POST" {
		s.headers["Content-Type"] = "application/json"
		s.body = func(v func(string) string) string {
			fields := make([]string, len(args))
			for i, a := range args {
				fields[i] = fmt.Sprintf("%q:%q", a, value(a, v))
			}
			return "{" + strings.Join(fields, ",") + "}"
		}
	} else {
		for _, a := range args {
			add(func(v func(string) string) string { return a + "=" + url.QueryEscape(value(a, v)) })
		}
	}
	if fn == "search_items" {
		if r.Intn(2) == 0 {
			sel := genSelect(r, 1)
			add(func(func(string) string) string { return "select=" + url.QueryEscape(sel) })
		}
		for i, n := 0, r.Intn(3); i < n; i++ {
			key, op := genFilterKey(r), genOperation(r)
			add(func(v func(string) string) string { return url.QueryEscape(key) + "=" + url.QueryEscape(op(v)) })
		}
		if r.Intn(2) == 0 {
			add(func(func(string) string) string { return "order=name.desc&limit=3" })
		}
	}
	if p := pick(r, genPrefer); p != "" {
		s.headers["Prefer"] = p
	}
	if a := pick(r, genAccept); a != "" {
		s.headers["Accept"] = a
	}
	return s
}

// instance draws values for a template; seed picks which values.
func (s genShape) instance(seed int64) genReq {
	vr := rand.New(rand.NewSource(seed))
	v := func(kind string) string {
		pool := []string{"1", "2", "17", "abc", "x*y", "'; drop table t; --", "", "NULL", "ü", "{1,2}", "[1,3)", "{\"k\":1}"}
		return kind[:0] + pick(vr, pool)
	}
	parts := make([]string, len(s.query))
	for i, q := range s.query {
		parts[i] = q(v)
	}
	g := genReq{method: s.method, path: s.path, query: strings.Join(parts, "&"), headers: s.headers}
	if g.path == "" {
		g.path = "/items"
	}
	if s.body != nil {
		g.body = s.body(v)
	}
	return g
}

func planOf(t *testing.T, m *Memo, g genReq, opts Options) (*Plan, bool) {
	t.Helper()
	r := httptest.NewRequest(g.method, g.path, strings.NewReader(g.body))
	r.URL.RawQuery = g.query
	for k, v := range g.headers {
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
		{PlanEnabled: true, LegacyTargetNames: true}, {PlanEnabled: true, LegacyTargetNames: true, HoistedSettings: []string{"work_mem"}}}
	compared, kinds := 0, map[string]int{}
	for i := 0; i < 200; i++ {
		for j, v := range variants(genTemplate(r), optionSets) {
			for seed := int64(0); seed < 2; seed++ {
				g := v.s.instance(int64(i)*1000 + int64(j)*2 + seed)
				hitsBefore := shared.Hits()
				got, ok := planOf(t, shared, g, v.o)
				if !ok || shared.Hits() == hitsBefore {
					continue
				}
				want, ok := planOf(t, New(16), g, v.o)
				if !ok {
					t.Fatalf("a memo hit for a request that fails on its own: %+v", g)
				}
				kinds[g.method+" "+strings.SplitN(g.path, "/", 3)[1]]++
				compared++
				gotArgs, wantArgs := len(got.Args), len(want.Args)
				gp, w := *got, *want
				gp.Args, w.Args = nil, nil
				gp.guard, w.guard = nil, nil // each memo entry has its own
				if fmt.Sprintf("%#v", gp) != fmt.Sprintf("%#v", w) || gotArgs != wantArgs {
					t.Fatalf("memo answered with another shape's plan for %+v %+v\nmemo:  %#v (%d args)\nfresh: %#v (%d args)",
						g, v.o, gp, gotArgs, w, wantArgs)
				}
				if fmt.Sprint(got.Args) != fmt.Sprint(want.Args) {
					t.Fatalf("bind values differ for %+v: memo %v, fresh %v", g, got.Args, want.Args)
				}
			}
		}
	}
	t.Logf("%d memo hits compared: %v", compared, kinds)
	for _, k := range []string{"GET items", "GET rpc", "POST rpc", "POST items", "PATCH items", "PUT items", "DELETE items"} {
		if kinds[k] < 20 {
			t.Errorf("only %d memo hits compared for %s", kinds[k], k)
		}
	}
	if compared < 1000 {
		t.Fatalf("only %d memo hits compared; the generator no longer produces valid requests", compared)
	}
}
