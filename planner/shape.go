package planner

import (
	"encoding/binary"
	"strings"

	"github.com/pgrest/pgrest/cache"
	"github.com/pgrest/pgrest/request"
)

// The shape walk is the one pass over a request that yields both the memo
// key and the bind values, so the two cannot disagree:
//
//   - every client value goes to args (its number is its position) and
//     only a marker goes to the key; everything else the planner reads is
//     written to the key, length-prefixed, so the encoding is injective;
//   - the tree builder reads a value's parameter number from ids (it
//     panics on a value the walk did not number), and the renderer reads
//     only the tree, so the SQL can depend on nothing but the key.
//
// Whatever the planner reads from a request must be written here. The
// test TestShapeCoversRequest reflects over request.Request and every type
// under it, changes each field in turn, and fails for a field that changes
// neither the key nor the values, unless it is listed in notInShape with
// the reason the planner may ignore it. A new field of the request fails
// that test until it is walked (or listed).
type values struct {
	args []any
	ids  map[any]int // *request.Filter / *request.JSONOp / *lang / &req.Body → $n
	key  []byte
}

// notInShape are the request's fields (Type.Field) the SQL may not
// depend on, with the reason.
var notInShape = map[string]string{
	"Request.SchemaNegotiated": "response headers only",
	"Request.RangeHeader":      "response status only",
	"Request.RPCArgs":          "argument names are in the call's shape (write), their values in its payload",
	"Request.Body":             "a value: its shape is written by write and call",
	"Request.Path":             "executor setting",
	"Request.Headers":          "executor setting (Accept is parsed into Accept)",
	"Request.Cookies":          "executor setting",
	"Request.params":           "the parser's, for the canonical query",
	"Preferences.Handling":     "checked on every request (PGRST128) and by the executor",
	"Preferences.Timezone":     "executor setting",
	"Preferences.Tx":           "executor",
	"Preferences.MaxAffected":  "checked on every request and by the executor",
	"Preferences.Invalid":      "the server refuses them",
	"MediaType.Params":         "only Accept's nulls, options and for are read (and written)",
	"MediaType.Q":              "Accept is sorted by it already",
	"Filter.Key":               "the parser's, for /rpc arguments",
}

func (v *values) add(key any, val any) {
	v.args = append(v.args, val)
	v.ids[key] = len(v.args)
	v.key = append(v.key, 'V')
}

// str writes s length-prefixed.
func (v *values) str(ss ...string) {
	for _, s := range ss {
		v.key = binary.AppendUvarint(v.key, uint64(len(s)))
		v.key = append(v.key, s...)
	}
}

func (v *values) flag(bs ...bool) {
	for _, b := range bs {
		if b {
			v.key = append(v.key, 1)
		} else {
			v.key = append(v.key, 0)
		}
	}
}

func (v *values) num(n int64) { v.key = binary.AppendVarint(v.key, n) }

func (v *values) optNum(n *int64) {
	v.flag(n != nil)
	if n != nil {
		v.num(*n)
	}
}

func (v *values) strs(ss []string) {
	v.flag(ss != nil)
	v.num(int64(len(ss)))
	v.str(ss...)
}

// walkShape walks the request: options and snapshot, then select paths,
// filters, logic trees, orders and ranges, numbering values in that order.
func walkShape(req *request.Request, snap *cache.Snapshot, opts Options) *values {
	v := &values{ids: map[any]int{}, key: make([]byte, 0, 256)}
	v.num(snap.Version)
	v.num(int64(req.Action))
	v.flag(req.HeadOnly, req.RPC, opts.AggregatesEnabled, opts.PlanEnabled, opts.LegacyTargetNames)
	v.optNum(opts.MaxRows)
	v.strs(opts.HoistedSettings)
	v.str(req.Method, req.Schema, req.Resource, req.Prefs.Count, req.Prefs.Return, req.Prefs.Resolution, req.Prefs.Missing,
		req.ContentType.Type, req.ContentType.Subtype)
	v.strs(req.Columns)
	v.strs(req.OnConflict)
	v.flag(req.Bulk != nil)
	if req.Bulk != nil {
		v.str(req.Bulk.Format)
		v.strs(req.Bulk.Cols)
	}
	v.num(int64(len(req.Accept)))
	for _, m := range req.Accept {
		v.str(m.Type, m.Subtype, m.Params["nulls"], m.Params["options"], m.Params["for"])
	}
	v.selects(req.Select)
	v.num(int64(len(req.Filters)))
	for i := range req.Filters {
		f := &req.Filters[i]
		v.strs(f.Path)
		v.filter(f)
	}
	v.num(int64(len(req.Logic)))
	for i := range req.Logic {
		v.strs(req.Logic[i].Path)
		v.logic(&req.Logic[i])
	}
	v.num(int64(len(req.Orders)))
	for i := range req.Orders {
		o := &req.Orders[i]
		v.strs(o.Path)
		v.num(int64(len(o.Terms)))
		for j := range o.Terms {
			t := &o.Terms[j]
			v.str(t.Relation)
			v.flag(t.Desc)
			v.num(int64(t.Nulls))
			v.field(&t.Field, true)
		}
	}
	v.num(int64(len(req.Ranges)))
	for _, r := range req.Ranges {
		v.strs(r.Path)
		v.num(r.Offset)
		v.optNum(r.Limit)
	}
	return v
}

// field writes a column and numbers its path's keys. Unless keyed is
// set, the keys are written too: an unaliased select item is named after
// its last key.
func (v *values) field(f *request.Field, valuesOnly bool) {
	v.str(f.Name)
	v.num(int64(len(f.Path)))
	for i := range f.Path {
		op := &f.Path[i]
		v.flag(op.Text, op.IsIndex())
		if !valuesOnly {
			v.str(op.Key)
		}
		v.add(op, op.Key)
	}
}

func (v *values) selects(items []request.SelectItem) {
	v.flag(items != nil)
	v.num(int64(len(items)))
	for i := range items {
		it := &items[i]
		v.str(it.Alias, it.Cast, it.Aggregate, it.AggregateCast)
		v.field(&it.Field, it.Alias != "")
		v.flag(it.Embed != nil)
		if e := it.Embed; e != nil {
			v.str(e.Name, e.Alias, e.Hint, e.JoinType)
			v.flag(e.Spread)
			v.selects(e.Select)
		}
	}
}

func (v *values) filter(f *request.Filter) {
	v.field(&f.Field, true)
	o := &f.Op
	v.flag(o.Negated, o.Language != "", o.List != nil)
	v.str(o.Op, o.Quant)
	switch {
	case o.Op == "is":
		v.str(o.Value) // a keyword, part of the SQL
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

func (v *values) logic(t *request.Logic) {
	v.flag(t.Or, t.Negated)
	v.num(int64(len(t.Children)))
	for i := range t.Children {
		c := &t.Children[i]
		v.flag(c.Filter != nil)
		if c.Filter != nil {
			v.filter(c.Filter)
		} else if c.Tree != nil {
			v.logic(c.Tree)
		}
	}
}

// call writes what a call's SQL depends on beyond the URL: the overload
// and how it takes the arguments; the arguments are one value.
func (v *values) call(req *request.Request, cl *call) {
	v.str("call", cl.fn.Schema, cl.fn.Signature())
	v.flag(cl.whole, cl.payload != nil)
	v.num(int64(len(cl.args)))
	for _, p := range cl.args {
		v.str(p.Name)
	}
	if cl.payload != nil {
		v.add(&req.Body, cl.payload)
	}
}

// write writes a write's payload shape; the payload is one value.
func (v *values) write(req *request.Request, pw *preparedWrite) {
	v.str("write")
	p := pw.p
	v.flag(p != nil)
	if p == nil {
		return
	}
	s := p.shape(req.Prefs.Missing == "default")
	v.strs(s.cols)
	v.flag(s.object, s.onlyFirst)
	v.num(int64(s.n))
	v.num(int64(len(s.present)))
	v.flag(s.present...)
	v.flag(s.inFirst...)
	if pw.bindsBody(req.Action) {
		v.add(&req.Body, p.arg)
	}
}
