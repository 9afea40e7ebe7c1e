package planner

import (
	"github.com/pgrest/pgrest/apierr"
	"github.com/pgrest/pgrest/cache"
	"github.com/pgrest/pgrest/request"
)

// The plan tree is a request resolved against one snapshot, as PostgREST's
// ReadPlanTree / MutatePlan / CallPlan: every name is looked up, every
// relationship chosen and every scoped parameter handed to the node it
// addresses while the tree is built, so all resolution errors (PGRST1xx,
// PGRST2xx) come from here. The tree holds no client value: each value is
// a bind parameter number the shape walk (shape.go) gave it, so the
// renderer (render*.go), which reads only the tree, cannot make the SQL
// depend on a value.

// fieldRef is a column with its JSON path; the path's keys are parameters.
type fieldRef struct {
	name string
	path []pathStep
}

type pathStep struct {
	text  bool // ->> rather than ->
	index bool // an array index: the parameter is cast to int
	param int
}

// selectNode is one item of a level's select list.
type selectNode struct {
	field     fieldRef
	alias     string
	name      string // the output name (alias, last JSON key or column)
	cast      string
	aggregate string
	aggCast   string
	child     *readNode // an embed
}

// filterNode is one filter of a level. exists is set for rel=is.null and
// rel=not.is.null on an embed of the level, which test for its rows.
type filterNode struct {
	field   fieldRef
	negated bool
	op      string
	quant   string
	is      string // the keyword of is.
	param   int    // the value ($n), 0 for is.
	lang    int    // the fts language ($n), 0 when none
	exists  *readNode
}

// logicNode is an and/or tree of filters.
type logicNode struct {
	or, negated bool
	filters     []*filterNode // children, in order; nil entries are trees
	trees       []*logicNode  // children, in order; nil entries are filters
}

// orderNode is one order term; related is the to-one embed of order=rel(col).
type orderNode struct {
	related *readNode
	field   fieldRef
	desc    bool
	nulls   request.NullsOrder
}

// readNode is one level of a read: the root relation or an embedded one,
// with its own select list, filters, logic trees, order and range.
type readNode struct {
	rel *cache.Relation
	// rel, the relationship to the parent level (nil at the root).
	relationship *cache.Relationship
	key          string // how the response and scoped parameters name it
	relName      string // the embed as written (legacy warning)
	alias        string
	spread       bool
	inner        bool
	// empty: rel() or ...rel(): the embed only filters its parent.
	empty bool
	// star: the select list is empty (every column).
	star     bool
	selects  []selectNode
	children []*readNode // every embed of the level, in select order
	filters  []*filterNode
	logic    []*logicNode
	orders   []orderNode
	offset   int64
	limit    *int64
	ranged   bool // offset and limit come from the first range naming the level
	// hasSelect: the embed has a select list as written (even an empty one).
	hasSelect bool
}

// builder resolves a request into a plan tree.
type builder struct {
	req  *request.Request
	snap *cache.Snapshot
	opts Options
	vals *values
	// nodes maps each embed of the request to its node.
	nodes map[*request.Embed]*readNode
	// legacyNamed are the aliased embeds scoped parameters named by relation.
	legacyNamed []*request.Embed
	// lenient: a scoped parameter naming no embed is left out rather than
	// refused (writes, whose response may not embed anything).
	lenient bool
}

// param is the number the shape walk gave a value; a value it did not
// number is a bug that must not reach SQL.
func (b *builder) param(key any) int {
	n, ok := b.vals.ids[key]
	if !ok {
		panic("planner: a value the shape walk did not number")
	}
	return n
}

func (b *builder) field(f *request.Field) fieldRef {
	r := fieldRef{name: f.Name}
	if len(f.Path) > 0 {
		r.path = make([]pathStep, len(f.Path))
		for i := range f.Path {
			op := &f.Path[i]
			r.path[i] = pathStep{text: op.Text, index: op.IsIndex(), param: b.param(op)}
		}
	}
	return r
}

// readTree builds the tree of a read of rel with the request's select and
// scoped parameters; items is the select list (nil for every column).
func (b *builder) readTree(rel *cache.Relation, items []request.SelectItem, alias string) (*readNode, error) {
	targets, err := b.scopedTargets(items)
	if err != nil {
		return nil, err
	}
	b.nodes = map[*request.Embed]*readNode{}
	root := &readNode{rel: rel, key: alias, alias: alias, hasSelect: items != nil}
	if err := b.level(root, items); err != nil {
		return nil, err
	}
	if err := b.distribute(root, targets); err != nil {
		return nil, err
	}
	return root, nil
}

// targets are the embeds each scoped parameter names (nil for the root),
// by kind, in the request's order.
type targets struct{ filters, orders, ranges, logic [][]*request.Embed }

// scopedTargets resolves the path of every scoped parameter to the embeds
// it names, in the order PostgREST checks them: PGRST108 for a path
// naming no embed in select.
func (b *builder) scopedTargets(items []request.SelectItem) (*targets, error) {
	req := b.req
	all := make([][]*request.Embed, len(req.Filters)+len(req.Orders)+len(req.Ranges)+len(req.Logic))
	t := &targets{}
	t.filters, all = all[:len(req.Filters)], all[len(req.Filters):]
	t.orders, all = all[:len(req.Orders)], all[len(req.Orders):]
	t.ranges, t.logic = all[:len(req.Ranges)], all[len(req.Ranges):]
	var err error
	for i := range req.Filters {
		if t.filters[i], err = b.embedPath(items, req.Filters[i].Path); err != nil {
			return nil, err
		}
	}
	for i := range req.Orders {
		if t.orders[i], err = b.embedPath(items, req.Orders[i].Path); err != nil {
			return nil, err
		}
	}
	for i := range req.Ranges {
		if t.ranges[i], err = b.embedPath(items, req.Ranges[i].Path); err != nil {
			return nil, err
		}
	}
	for i := range req.Logic {
		if t.logic[i], err = b.embedPath(items, req.Logic[i].Path); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// embedPath follows a scoped parameter's path through the select list.
// Every embed matching a step counts (two embeds may share a name).
func (b *builder) embedPath(items []request.SelectItem, path []string) ([]*request.Embed, error) {
	level := [][]request.SelectItem{items}
	var last []*request.Embed
	for _, k := range path {
		var next [][]request.SelectItem
		last = last[:0:0]
		for _, its := range level {
			for i := range its {
				if e := its[i].Embed; e != nil && embedKey(e) == k {
					last = append(last, e)
					next = append(next, e.Select)
				}
			}
		}
		if len(last) == 0 {
			// only the first level list matters for the aliased name
			aliased := findAliasedTarget(level[0], k)
			if aliased == nil || !b.opts.LegacyTargetNames {
				if b.lenient {
					return []*request.Embed{}, nil
				}
				return nil, notEmbedded(k, aliased)
			}
			b.legacyNamed = append(b.legacyNamed, aliased)
			last, next = []*request.Embed{aliased}, [][]request.SelectItem{aliased.Select}
		}
		level = next
	}
	return last, nil
}

// level builds the select list of node n and the nodes of its embeds.
func (b *builder) level(n *readNode, items []request.SelectItem) error {
	n.star = len(items) == 0
	n.selects = make([]selectNode, 0, len(items))
	for i := range items {
		it := &items[i]
		if e := it.Embed; e != nil {
			child, err := b.embed(n.rel, e)
			if err != nil {
				return err
			}
			n.children = append(n.children, child)
			n.selects = append(n.selects, selectNode{child: child, name: child.key})
			continue
		}
		if it.Field.Name != "*" || it.Aggregate != "" {
			if !validCast(it.Cast) || !validCast(it.AggregateCast) {
				return apierr.ParseError("\"failed to parse select parameter\"", "invalid cast type")
			}
		}
		n.selects = append(n.selects, selectNode{field: b.field(&it.Field), alias: it.Alias, name: outputName(it), cast: it.Cast,
			aggregate: it.Aggregate, aggCast: it.AggregateCast})
	}
	return nil
}

// embed resolves an embed's relationship and builds its level.
func (b *builder) embed(parent *cache.Relation, e *request.Embed) (*readNode, error) {
	r, target, err := b.relationship(parent, e)
	if err != nil {
		return nil, err
	}
	n := &readNode{rel: target, relationship: r, key: embedKey(e), relName: e.Name, alias: e.Alias, spread: e.Spread,
		inner: e.JoinType == "inner", empty: emptyEmbed(e), hasSelect: e.Select != nil}
	b.nodes[e] = n
	if e.Spread && e.Select != nil && len(e.Select) == 0 {
		return n, nil // ...rel() only filters
	}
	if err := b.level(n, e.Select); err != nil {
		return nil, err
	}
	return n, nil
}

// eachNode calls f on the nodes a resolved path addresses (the root for
// none), until f fails.
func (b *builder) eachNode(root *readNode, chain []*request.Embed, f func(n *readNode) error) error {
	if chain == nil {
		return f(root)
	}
	for _, e := range chain {
		if n := b.nodes[e]; n != nil {
			if err := f(n); err != nil {
				return err
			}
		}
	}
	return nil
}

// distribute hands every filter, logic tree, order and range to the node
// it addresses, in the request's order.
func (b *builder) distribute(root *readNode, t *targets) error {
	req := b.req
	for i := range req.Filters {
		f := &req.Filters[i]
		if err := b.eachNode(root, t.filters[i], func(n *readNode) error {
			fn, err := b.filter(n, f)
			n.filters = append(n.filters, fn)
			return err
		}); err != nil {
			return err
		}
	}
	for i := range req.Logic {
		lt := &req.Logic[i]
		if err := b.eachNode(root, t.logic[i], func(n *readNode) error {
			ln, err := b.logic(n, lt)
			n.logic = append(n.logic, ln)
			return err
		}); err != nil {
			return err
		}
	}
	for i := range req.Orders {
		o := &req.Orders[i]
		if err := b.eachNode(root, t.orders[i], func(n *readNode) error {
			for j := range o.Terms {
				on, err := b.order(n, &o.Terms[j])
				if err != nil {
					return err
				}
				n.orders = append(n.orders, on)
			}
			return nil
		}); err != nil {
			return err
		}
	}
	for i := range req.Ranges {
		r := &req.Ranges[i]
		_ = b.eachNode(root, t.ranges[i], func(n *readNode) error {
			if !n.ranged {
				n.offset, n.limit, n.ranged = r.Offset, r.Limit, true
			}
			return nil
		})
	}
	return nil
}

// childByKey is the first embed of n named key.
func childByKey(n *readNode, key string) *readNode {
	for _, c := range n.children {
		if c.key == key {
			return c
		}
	}
	return nil
}

// filter resolves a filter of level n. rel=is.null on an embed of the
// level tests for the embed's rows; any other operator filters a column
// of that name, as in PostgREST (which no longer refuses it with PGRST120).
func (b *builder) filter(n *readNode, f *request.Filter) (*filterNode, error) {
	o := &f.Op
	fn := &filterNode{field: b.field(&f.Field), negated: o.Negated, op: o.Op, quant: o.Quant}
	if o.Op == "is" {
		fn.is = o.Value
		if len(f.Field.Path) == 0 && (o.Value == "null" || o.Value == "not_null") {
			fn.exists = childByKey(n, f.Field.Name)
		}
		return fn, nil
	}
	fn.param = b.param(f)
	if o.Language != "" {
		fn.lang = b.param(&o.Language)
	}
	if o.Quant != "" && ftsFuncs[o.Op] == "" && o.Op != "in" {
		if op := binaryOps[o.Op]; op == "" || o.Op == "isdistinct" {
			return nil, apierr.ParseError("\"failed to parse filter ("+o.Op+"("+o.Quant+"))\"", "any/all applies to eq, neq, gt, gte, lt, lte, like, ilike, match, imatch")
		}
	}
	return fn, nil
}

func (b *builder) logic(n *readNode, t *request.Logic) (*logicNode, error) {
	ln := &logicNode{or: t.Or, negated: t.Negated}
	for i := range t.Children {
		ch := &t.Children[i]
		if ch.Filter != nil {
			f, err := b.filter(n, ch.Filter)
			if err != nil {
				return nil, err
			}
			ln.filters, ln.trees = append(ln.filters, f), append(ln.trees, nil)
			continue
		}
		sub, err := b.logic(n, ch.Tree)
		if err != nil {
			return nil, err
		}
		ln.filters, ln.trees = append(ln.filters, nil), append(ln.trees, sub)
	}
	return ln, nil
}

// order resolves an order term of level n; order=rel(col) needs a to-one
// embed of the level.
func (b *builder) order(n *readNode, t *request.OrderTerm) (orderNode, error) {
	on := orderNode{field: b.field(&t.Field), desc: t.Desc, nulls: t.Nulls}
	if t.Relation == "" {
		return on, nil
	}
	child := childByKey(n, t.Relation)
	if child == nil {
		return on, apierr.NotEmbedded(t.Relation, "")
	}
	if !child.relationship.ToOne {
		return on, apierr.RelatedOrderNotToOne(n.rel.Name, child.key)
	}
	on.related = child
	return on, nil
}
