package planner

import (
	"strconv"
	"strings"

	"github.com/pgrest/pgrest/cache"
	"github.com/pgrest/pgrest/request"
)

// renderer turns a plan tree into SQL. It reads the tree, the snapshot
// (domain representations) and the options, never the request: the tree
// holds parameter numbers where the request held values.
type renderer struct {
	snap  *cache.Snapshot
	opts  Options
	alias int
	// spreadAlias is the lateral join alias of each spread level (related
	// orders on a spread read its columns there).
	spreadAlias map[*readNode]string
	// jsonOut: the body is builtin JSON, where domain representations apply.
	jsonOut bool
	// mutation: a write, whose embeds max-rows does not cap.
	mutation bool
	// rootAlias and rootStar: a table read's root level, named by the
	// table itself, selects all columns as rootStar ("schema"."table".*),
	// and its rows come from a pgrst_source CTE, as in PostgREST's SQL
	// (log-query shows it).
	rootAlias, rootStar string
}

// starOf is all columns of the level under alias.
func (c *renderer) starOf(alias string) string {
	if c.rootStar != "" && alias == c.rootAlias {
		return c.rootStar
	}
	return ident(alias) + ".*"
}

func param(n int) string { return "$" + strconv.Itoa(n) }

func (c *renderer) nextAlias(name string) string {
	c.alias++
	return name + "_" + strconv.Itoa(c.alias)
}

// readSQL is the root level's query: SELECT list, FROM, WHERE (with the
// GROUP BY of aggregates) and the ORDER/LIMIT/OFFSET.
type readSQL struct {
	cols, from, where, order string
	names                    []string
	offset                   int64
	limit                    *int64
}

// query renders the rows of a read of root from the FROM item from; a
// scalar call's rows are its single pgrst_scalar column.
func (c *renderer) query(root *readNode, from string, scalar bool) readSQL {
	l := &level{cols: []string{ident(root.alias) + ".pgrst_scalar"}, names: []string{"pgrst_scalar"}}
	if !scalar {
		l = c.selectList(root, root.alias, false)
	}
	q := readSQL{cols: l.selectSQL(), from: from + l.joinSQL(), names: l.names, offset: root.offset, limit: root.limit}
	q.where = c.whereClause(root, root.alias, false) + l.groupSQL()
	q.order = c.orderClause(root, root.alias)
	if m := c.opts.MaxRows; m != nil && (q.limit == nil || *q.limit > *m) {
		q.limit = m
	}
	return q
}

func (q readSQL) String() string {
	var b strings.Builder
	b.WriteString("SELECT ")
	b.WriteString(q.cols)
	b.WriteString(" FROM ")
	b.WriteString(q.from)
	b.WriteString(q.where)
	b.WriteString(q.order)
	if q.limit != nil {
		b.WriteString(" LIMIT " + strconv.FormatInt(*q.limit, 10))
	}
	if q.offset > 0 {
		b.WriteString(" OFFSET " + strconv.FormatInt(q.offset, 10))
	}
	return b.String()
}

// bodyColumns are the body and body_bytes result columns.
func bodyColumns(m *media, names []string) string {
	text, bytes := m.body(names)
	return text + " AS body, " + bytes + " AS body_bytes"
}

// responseSettings are the result columns carrying response.headers and
// response.status as SQL left them.
const responseSettings = "nullif(current_setting('response.headers', true), '') AS response_headers, nullif(current_setting('response.status', true), '') AS response_status"

// field renders a column with its JSON path, every key a parameter.
// A column of another type than json or jsonb (of rel, nil when unknown)
// reads a path through to_jsonb, as PostgREST does.
func (c *renderer) field(rel *cache.Relation, alias string, f *fieldRef) string {
	if f.name == "*" {
		return c.starOf(alias)
	}
	s := ident(alias) + "." + ident(f.name)
	if len(f.path) > 0 && rel != nil {
		if col := rel.Column(f.name); col != nil && col.BaseType != "json" && col.BaseType != "jsonb" {
			s = "to_jsonb(" + s + ")"
		}
	}
	for _, op := range f.path {
		arrow := "->"
		if op.text {
			arrow = "->>"
		}
		// a key is left untyped, like PostgREST's literal: the operator
		// takes it as text, and the error of a wrong operator names it
		// unknown
		cast := ""
		if op.index {
			cast = "::int"
		}
		s += arrow + param(op.param) + cast
	}
	return s
}

// level is the compiled select list of one level: its columns, the
// lateral joins of its spread embeds, and its GROUP BY when it aggregates.
type level struct {
	cols    []string // expr AS name
	names   []string // output names (CSV headers, spread columns)
	joins   []string
	groupBy []string
	agg     bool
	// hoisted maps an output column of a spread level to the aggregate the
	// embedding level applies to it (PostgREST hoists spread aggregates).
	hoisted map[string]hoist
}

type hoist struct{ fn, cast, alias string }

func (l *level) add(expr, name string, grouped bool) {
	l.cols = append(l.cols, expr+" AS "+ident(name))
	l.names = append(l.names, name)
	if grouped {
		l.groupBy = append(l.groupBy, expr)
	}
}

func (l *level) selectSQL() string {
	if len(l.cols) == 0 {
		return "NULL AS " + ident("_pgrest_empty")
	}
	return strings.Join(l.cols, ", ")
}

func (l *level) joinSQL() string {
	if len(l.joins) == 0 {
		return ""
	}
	return " " + strings.Join(l.joins, " ")
}

func (l *level) groupSQL() string {
	if !l.agg || len(l.groupBy) == 0 {
		return ""
	}
	return " GROUP BY " + strings.Join(l.groupBy, ", ")
}

var starSelect = []selectNode{{field: fieldRef{name: "*"}, name: "*"}}

// selectList renders the columns of level n. A spread level (hoisting)
// selects its aggregates' arguments and leaves the aggregates to the level
// that embeds it.
func (c *renderer) selectList(n *readNode, alias string, hoisting bool) *level {
	items := n.selects
	if n.star {
		items = starSelect
	}
	rel := n.rel
	l := &level{}
	for i := range items {
		it := &items[i]
		switch {
		case it.child != nil && it.child.spread:
			c.spread(l, alias, it.child, hoisting)
		case it.child != nil:
			if it.child.empty {
				continue // rel() only filters
			}
			l.add(c.embed(alias, it.child), it.child.key, true) // jsonb groups
		case it.field.name == "*" && it.aggregate == "":
			c.star(l, rel, alias)
		case it.aggregate != "" && hoisting:
			arg, name := "1", it.alias
			if it.field.name != "" && it.field.name != "*" {
				arg = castExpr(c.field(rel, alias, &it.field), it.cast)
				if name == "" {
					name = it.name
				}
			} else if name == "" {
				name = "count"
			}
			if l.hoisted == nil {
				l.hoisted = map[string]hoist{}
			}
			l.hoisted[name] = hoist{fn: it.aggregate, cast: it.aggCast, alias: it.alias}
			l.add(arg, name, false)
		case it.aggregate != "":
			l.agg = true
			expr := "pg_catalog.count(*)"
			if it.field.name != "" && it.field.name != "*" {
				expr = it.aggregate + "(" + castExpr(c.field(rel, alias, &it.field), it.cast) + ")"
			}
			name := it.alias
			if name == "" {
				name = it.aggregate
			}
			l.add(castExpr(expr, it.aggCast), name, false)
		default:
			// a domain's representation applies first, a cast on top
			expr := c.field(rel, alias, &it.field)
			if c.jsonOut {
				if fn := c.representation(rel, &it.field, toJSON); fn != "" {
					expr = fn + "(" + expr + ")"
				}
			}
			l.add(castExpr(expr, it.cast), it.name, true)
		}
	}
	return l
}

// star selects every column of rel; a domain representation needs each
// column spelled out.
func (c *renderer) star(l *level, rel *cache.Relation, alias string) {
	var own []string
	spelled := false
	for _, col := range rel.Columns {
		expr := ident(alias) + "." + ident(col.Name)
		if fn := c.representation(rel, &fieldRef{name: col.Name}, toJSON); fn != "" && c.jsonOut {
			spelled = true
			expr = fn + "(" + expr + ")"
		}
		own = append(own, expr)
	}
	if spelled || len(rel.Columns) == 0 {
		for i, col := range rel.Columns {
			l.add(own[i], col.Name, true)
		}
		if len(rel.Columns) == 0 {
			l.cols = append(l.cols, c.starOf(alias))
		}
		return
	}
	l.cols = append(l.cols, c.starOf(alias))
	for i, col := range rel.Columns {
		l.names = append(l.names, col.Name)
		l.groupBy = append(l.groupBy, own[i])
	}
}

func toJSON(r *cache.Representation) *cache.QI { return r.ToJSON }

// representation returns the function of a domain representation cast
// that applies to a plain column of rel (which picks it), "" when none.
func (c *renderer) representation(rel *cache.Relation, f *fieldRef, pick func(*cache.Representation) *cache.QI) string {
	return representation(c.snap, rel, f, pick)
}

func representation(snap *cache.Snapshot, rel *cache.Relation, f *fieldRef, pick func(*cache.Representation) *cache.QI) string {
	if rel == nil || len(f.path) > 0 || len(snap.Representations) == 0 {
		return ""
	}
	col := rel.Column(f.name)
	if col == nil {
		return ""
	}
	r := snap.Representations[col.Type]
	if r == nil {
		return ""
	}
	if fn := pick(r); fn != nil {
		return ident(fn.Schema) + "." + ident(fn.Name)
	}
	return ""
}

// castExpr appends ::type; the type is validated (when the tree was
// built) and quoted, never pasted.
func castExpr(expr, typ string) string {
	if typ == "" {
		return expr
	}
	arr := strings.HasSuffix(typ, "[]")
	base := strings.ToLower(strings.TrimSuffix(typ, "[]"))
	if a, ok := typeAliases[base]; ok {
		base = a
	}
	q := ident(base)
	if arr {
		q += "[]"
	}
	return "(" + expr + ")::" + q
}

// whereClause combines the filters and logic trees of level n, plus the
// existence conditions of !inner embeds; plain (the WHERE of a write)
// reads every filter as a column's and adds no embed conditions.
func (c *renderer) whereClause(n *readNode, alias string, plain bool) string {
	var conds []string
	for _, f := range n.filters {
		conds = append(conds, c.filter(n.rel, alias, f, plain))
	}
	for _, t := range n.logic {
		conds = append(conds, c.logic(n.rel, alias, t, plain))
	}
	if !plain {
		for _, ch := range n.children {
			if ch.inner {
				conds = append(conds, c.existsEmbed(alias, ch))
			}
		}
	}
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

func (c *renderer) logic(rel *cache.Relation, alias string, t *logicNode, plain bool) string {
	parts := make([]string, len(t.filters))
	for i, f := range t.filters {
		if f != nil {
			parts[i] = c.filter(rel, alias, f, plain)
		} else {
			parts[i] = c.logic(rel, alias, t.trees[i], plain)
		}
	}
	j := " AND "
	if t.or {
		j = " OR "
	}
	s := "(" + strings.Join(parts, j) + ")"
	if t.negated {
		s = "NOT " + s
	}
	return s
}

var binaryOps = map[string]string{
	"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<=",
	"like": "LIKE", "ilike": "ILIKE", "match": "~", "imatch": "~*", "isdistinct": "IS DISTINCT FROM",
	"cs": "@>", "cd": "<@", "ov": "&&", "sl": "<<", "sr": ">>", "nxr": "&<", "nxl": "&>", "adj": "-|-",
}

var ftsFuncs = map[string]string{"fts": "to_tsquery", "plfts": "plainto_tsquery", "phfts": "phraseto_tsquery", "wfts": "websearch_to_tsquery"}

var isKeywords = map[string]string{"null": "NULL", "not_null": "NOT NULL", "true": "TRUE", "false": "FALSE", "unknown": "UNKNOWN"}

func (c *renderer) filter(rel *cache.Relation, alias string, f *filterNode, plain bool) string {
	if f.exists != nil && !plain {
		s := c.existsEmbed(alias, f.exists)
		if (f.is == "null") != f.negated {
			s = "NOT " + s
		}
		return s
	}
	s := c.condition(rel, alias, f)
	if f.negated {
		s = "NOT (" + s + ")"
	}
	return s
}

// condition is a filter's test without its not.
func (c *renderer) condition(rel *cache.Relation, alias string, f *filterNode) string {
	col := c.field(rel, alias, &f.field)
	// A domain with a cast from text reads filter values through it.
	if fn := c.representation(rel, &f.field, func(r *cache.Representation) *cache.QI { return r.FromText }); fn != "" {
		switch {
		case f.op == "in":
			return col + " = ANY(ARRAY(SELECT " + fn + "(_pgrest_v) FROM unnest(" + param(f.param) + "::text[]) AS _pgrest_v))"
		case binaryOps[f.op] != "" && f.quant == "" && f.op != "like" && f.op != "ilike" && f.op != "match" && f.op != "imatch":
			return col + " " + binaryOps[f.op] + " " + fn + "(" + param(f.param) + "::text)"
		}
	}
	switch {
	case f.op == "is":
		return col + " IS " + isKeywords[f.is]
	case f.op == "in":
		return col + " = ANY(" + param(f.param) + ")"
	case ftsFuncs[f.op] != "":
		lang := ""
		if f.lang != 0 {
			lang = param(f.lang) + "::regconfig, "
		}
		// Text and json columns are searched through to_tsvector in the
		// same configuration, as PostgREST does.
		if !columnIs(rel, f.field.name, "tsvector") {
			col = "to_tsvector(" + lang + col + ")"
		}
		return col + " @@ " + ftsFuncs[f.op] + "(" + lang + param(f.param) + ")"
	case f.quant != "":
		return col + " " + binaryOps[f.op] + " " + strings.ToUpper(f.quant) + "(" + param(f.param) + ")"
	}
	return col + " " + binaryOps[f.op] + " " + param(f.param)
}

func (c *renderer) orderClause(n *readNode, alias string) string {
	if len(n.orders) == 0 {
		return ""
	}
	terms := make([]string, len(n.orders))
	for i := range n.orders {
		t := &n.orders[i]
		var s string
		if t.related != nil {
			s = c.relatedOrder(alias, t)
		} else {
			s = c.field(n.rel, alias, &t.field)
		}
		if t.desc {
			s += " DESC"
		} else {
			s += " ASC"
		}
		switch t.nulls {
		case request.NullsFirst:
			s += " NULLS FIRST"
		case request.NullsLast:
			s += " NULLS LAST"
		}
		terms[i] = s
	}
	return " ORDER BY " + strings.Join(terms, ", ")
}

// columnIs reports whether rel's column name has one of the types, by its
// own type name or, for a domain, its base type's. Function result
// columns carry only their formatted type.
func columnIs(rel *cache.Relation, name string, types ...string) bool {
	if rel == nil {
		return false
	}
	col := rel.Column(name)
	if col == nil {
		return false
	}
	for _, t := range types {
		if col.NominalType == t || col.BaseType == t || (col.NominalType == "" && col.Type == t) {
			return true
		}
	}
	return false
}

// read renders a read plan from the FROM item from.
func (c *renderer) read(p *readPlan, from, with string) *Plan {
	media := p.media
	c.jsonOut = media.json()
	q := c.query(p.root, from, media.scalar)
	pl := &Plan{ReadOnly: true, MediaType: media.contentType, Offset: q.offset, Singular: media.singular, Count: p.count, Warning: p.warning}
	total := "NULL::bigint"
	switch p.count {
	case "exact":
		total = "(SELECT pg_catalog.count(*) FROM " + q.from + q.where + ")"
	case "planned":
		pl.CountSQL = "SELECT 1  FROM " + q.from + q.where
	case "estimated":
		pl.CountSQL = "SELECT 1  FROM " + q.from + q.where
		pl.EstimateAbove = c.opts.MaxRows
		if c.opts.MaxRows != nil {
			total = "(SELECT pg_catalog.count(*) FROM (" + pl.CountSQL + " LIMIT " + strconv.FormatInt(*c.opts.MaxRows+1, 10) + ") _pgrest_c)"
		} else {
			total = "(SELECT pg_catalog.count(*) FROM " + q.from + q.where + ")"
		}
	}
	if media.ndjson {
		pl.SQL, pl.Stream = streamStatement(with, total, media, q.String()), media.explain == ""
		pl.Explain = media.explain
		return pl
	}
	var sql strings.Builder
	rows := q.String()
	if c.rootStar != "" {
		// An inlined CTE: the plan is the same as the subquery's.
		sql.WriteString("WITH pgrst_source AS (" + rows + ") ")
		rows = "SELECT * FROM pgrst_source"
	}
	sql.WriteString(with)
	sql.WriteString("SELECT ")
	sql.WriteString(total)
	sql.WriteString(" AS total, pg_catalog.count(*) AS page_total, ")
	sql.WriteString(bodyColumns(media, q.names))
	sql.WriteString(", " + responseSettings + " FROM (")
	sql.WriteString(rows)
	sql.WriteString(") _postgrest_t")
	pl.SQL = sql.String()
	if media.explain != "" {
		// The plan is the whole statement's, aggregation included.
		pl.Explain = media.explain
		pl.CountSQL = ""
	}
	return pl
}
