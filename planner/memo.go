package planner

import (
	"strconv"
	"strings"
	"sync/atomic"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/pgrest/pgrest/cache"
	"github.com/pgrest/pgrest/request"
)

// compiled is what the memo keeps per request shape: the SQL and plan
// metadata; the args are re-collected from each request by collectValues,
// which numbers values in the same canonical order the compiler used.
type compiled struct {
	plan Plan
}

// Memo compiles plans and memoizes them by request shape.
type Memo struct {
	lru          *lru.Cache[string, *compiled]
	hits, misses atomic.Int64
}

// New makes a memo of size entries (a minimum of 16).
func New(size int) *Memo {
	if size < 16 {
		size = 16
	}
	c, _ := lru.New[string, *compiled](size)
	return &Memo{lru: c}
}

// Hits counts requests answered from the memo.
func (m *Memo) Hits() int64 { return m.hits.Load() }

// Misses counts requests that were compiled.
func (m *Memo) Misses() int64 { return m.misses.Load() }

// Plan returns the plan for req against snap, compiling only for a shape
// not seen with this snapshot version.
func (m *Memo) Plan(req *request.Request, snap *cache.Snapshot, opts Options) (*Plan, error) {
	var cl *call
	if req.Action == request.ActInvoke {
		var err error
		if cl, err = resolveCall(req, snap); err != nil {
			return nil, err
		}
	}
	vals := collectValues(req)
	if req.Action != request.ActRead && req.Action != request.ActInvoke {
		// Writes depend on the payload's keys; they are compiled each time.
		return compileWrite(req, snap, opts, vals)
	}
	if cl != nil && cl.payload != nil {
		vals.add(&req.Body, cl.payload)
	}
	key := shapeKey(req, snap, opts, vals)
	if cl != nil {
		key += "C" + cl.shape() + "\x00" + req.Method + "\x00" + strings.Join(opts.HoistedSettings, ",")
	}
	if c, ok := m.lru.Get(key); ok {
		m.hits.Add(1)
		p := c.plan
		p.Args = vals.args
		return &p, nil
	}
	m.misses.Add(1)
	p, err := compile(req, snap, opts, vals, cl)
	if err != nil {
		return nil, err
	}
	m.lru.Add(key, &compiled{plan: *p})
	return p, nil
}

// values numbers every user-supplied value of a request in a canonical
// order: select paths, filters, logic trees, orders. The compiler refers
// to them by the same numbers.
type values struct {
	args []any
	ids  map[any]int // *request.Filter / *request.JSONOp / *lang → $n
}

func (v *values) add(key any, val any) {
	v.args = append(v.args, val)
	v.ids[key] = len(v.args)
}

func collectValues(req *request.Request) *values {
	v := &values{ids: map[any]int{}}
	var walkSelect func(items []request.SelectItem)
	walkSelect = func(items []request.SelectItem) {
		for i := range items {
			it := &items[i]
			v.path(it.Field.Path)
			if it.Embed != nil {
				walkSelect(it.Embed.Select)
			}
		}
	}
	walkSelect(req.Select)
	for i := range req.Filters {
		v.filter(&req.Filters[i])
	}
	var walkLogic func(t *request.Logic)
	walkLogic = func(t *request.Logic) {
		for i := range t.Children {
			if c := &t.Children[i]; c.Filter != nil {
				v.filter(c.Filter)
			} else if c.Tree != nil {
				walkLogic(c.Tree)
			}
		}
	}
	for i := range req.Logic {
		walkLogic(&req.Logic[i])
	}
	for i := range req.Orders {
		for j := range req.Orders[i].Terms {
			v.path(req.Orders[i].Terms[j].Field.Path)
		}
	}
	return v
}

func (v *values) path(p []request.JSONOp) {
	for i := range p {
		v.add(&p[i], p[i].Key)
	}
}

func (v *values) filter(f *request.Filter) {
	v.path(f.Field.Path)
	o := &f.Op
	switch {
	case o.Op == "is":
	case o.List != nil:
		list := o.List
		if o.Op == "like" || o.Op == "ilike" {
			list = make([]string, len(o.List))
			for i, s := range o.List {
				list[i] = strings.ReplaceAll(s, "*", "%")
			}
		}
		v.add(f, list)
	case o.Op == "like" || o.Op == "ilike":
		v.add(f, strings.ReplaceAll(o.Value, "*", "%"))
	default:
		v.add(f, o.Value)
	}
	if o.Language != "" {
		v.add(&o.Language, o.Language)
	}
}

// shapeKey is the request with values left out, plus everything else that
// changes the SQL text. It is written by hand: it runs on every request.
func shapeKey(req *request.Request, snap *cache.Snapshot, opts Options, v *values) string {
	var b strings.Builder
	b.Grow(256)
	w := func(ss ...string) {
		for _, s := range ss {
			b.WriteString(s)
			b.WriteByte(0)
		}
	}
	w(strconv.FormatInt(snap.Version, 10), strconv.Itoa(int(req.Action)), strconv.FormatBool(req.HeadOnly),
		req.Schema, req.Resource, req.Prefs.Count, strconv.FormatBool(opts.AggregatesEnabled), strconv.FormatBool(opts.PlanEnabled),
		strconv.FormatBool(opts.LegacyTargetNames))
	if opts.MaxRows != nil {
		w(strconv.FormatInt(*opts.MaxRows, 10))
	}
	b.WriteString("S")
	writeSelect(&b, w, req.Select)
	b.WriteString("F")
	for i := range req.Filters {
		f := &req.Filters[i]
		w(strings.Join(f.Path, "."))
		writeFilterShape(w, f)
	}
	b.WriteString("L")
	for i := range req.Logic {
		writeLogic(&b, w, &req.Logic[i])
	}
	b.WriteString("O")
	for _, o := range req.Orders {
		w(strings.Join(o.Path, "."))
		for _, t := range o.Terms {
			w(t.Relation, t.Field.Name, strconv.Itoa(len(t.Field.Path)), strconv.FormatBool(t.Desc), strconv.Itoa(int(t.Nulls)))
			for _, op := range t.Field.Path {
				w(strconv.FormatBool(op.Text), numKind(op))
			}
		}
	}
	b.WriteString("R")
	for _, r := range req.Ranges {
		w(strings.Join(r.Path, "."), strconv.FormatInt(r.Offset, 10))
		if r.Limit != nil {
			w(strconv.FormatInt(*r.Limit, 10))
		}
	}
	b.WriteString("A")
	for _, m := range req.Accept {
		w(m.Type, m.Subtype, m.Params["nulls"], m.Params["options"], m.Params["for"])
	}
	w(strconv.Itoa(len(v.args)))
	return b.String()
}

// numKind distinguishes array indexes from keys in JSON paths: the
// compiler casts the parameter accordingly.
func numKind(op request.JSONOp) string {
	if op.IsIndex() {
		return "i"
	}
	return "k"
}

func writeSelect(b *strings.Builder, w func(...string), items []request.SelectItem) {
	for _, it := range items {
		// Output names come from aliases or the last JSON key, so keys
		// without an alias are part of the shape.
		w(it.Field.Name, it.Alias, it.Cast, it.Aggregate, it.AggregateCast, strconv.Itoa(len(it.Field.Path)))
		for _, op := range it.Field.Path {
			w(strconv.FormatBool(op.Text), numKind(op))
			if it.Alias == "" {
				w(op.Key)
			}
		}
		if e := it.Embed; e != nil {
			w("(", e.Name, e.Alias, e.Hint, e.JoinType, strconv.FormatBool(e.Spread), strconv.FormatBool(e.Select == nil))
			writeSelect(b, w, e.Select)
			b.WriteString(")")
		}
	}
}

func writeFilterShape(w func(...string), f *request.Filter) {
	o := &f.Op
	w(f.Field.Name, strconv.Itoa(len(f.Field.Path)), strconv.FormatBool(o.Negated), o.Op, o.Quant, strconv.FormatBool(o.Language != ""))
	for _, op := range f.Field.Path {
		w(strconv.FormatBool(op.Text), numKind(op))
	}
	if o.Op == "is" {
		w(o.Value)
	}
}

func writeLogic(b *strings.Builder, w func(...string), t *request.Logic) {
	w(strings.Join(t.Path, "."), strconv.FormatBool(t.Or), strconv.FormatBool(t.Negated))
	b.WriteString("(")
	for _, c := range t.Children {
		if c.Filter != nil {
			writeFilterShape(w, c.Filter)
		} else if c.Tree != nil {
			writeLogic(b, w, c.Tree)
		}
	}
	b.WriteString(")")
}
