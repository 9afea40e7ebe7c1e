package planner

import (
	"encoding/json"
	"strconv"
	"strings"
	"sync/atomic"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/pgrest/pgrest/cache"
	"github.com/pgrest/pgrest/server/request"
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

func (m *Memo) Hits() int64   { return m.hits.Load() }
func (m *Memo) Misses() int64 { return m.misses.Load() }

// Plan returns the plan for req against snap, compiling only for a shape
// not seen with this snapshot version.
func (m *Memo) Plan(req *request.Request, snap *cache.Snapshot, opts Options) (*Plan, error) {
	vals := collectValues(req)
	key := shapeKey(req, snap, opts, vals)
	if c, ok := m.lru.Get(key); ok {
		m.hits.Add(1)
		p := c.plan
		p.Args = vals.args
		return &p, nil
	}
	m.misses.Add(1)
	p, err := compile(req, snap, opts, vals)
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
	args  []any
	ids   map[any]int // *request.Filter / *request.JSONOp / *lang → $n
	shape strings.Builder
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
// changes the SQL text.
func shapeKey(req *request.Request, snap *cache.Snapshot, opts Options, v *values) string {
	type shape struct {
		V       int64
		A       request.Action
		H       bool
		S, R    string
		Sel     []request.SelectItem
		F       []request.Filter
		L       []request.Logic
		O       []request.Order
		Rg      []request.Range
		Acc     []request.MediaType
		Cnt     string
		Opt     Options
		MaxRows int64
	}
	sh := shape{V: snap.Version, A: req.Action, H: req.HeadOnly, S: req.Schema, R: req.Resource,
		Sel: req.Select, L: req.Logic, O: req.Orders, Rg: req.Ranges, Acc: req.Accept, Cnt: req.Prefs.Count, Opt: opts}
	if opts.MaxRows != nil {
		sh.MaxRows = *opts.MaxRows
	}
	// Filters without their values: the operator, quantifier and the
	// is-value change the SQL; the compared value does not.
	sh.F = make([]request.Filter, len(req.Filters))
	for i, f := range req.Filters {
		f.Op.List = nil
		if f.Op.Op != "is" {
			f.Op.Value = ""
		}
		sh.F[i] = f
	}
	b, _ := json.Marshal(sh)
	return strconv.Itoa(len(v.args)) + string(b)
}
