package planner

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/pgrest/pgrest/apierr"
	"github.com/pgrest/pgrest/cache"
	"github.com/pgrest/pgrest/request"
)

func ident(s string) string { return pgx.Identifier{s}.Sanitize() }

// compiler holds the state of one compilation.
type compiler struct {
	req   *request.Request
	snap  *cache.Snapshot
	opts  Options
	vals  *values
	alias int
	// spreadAlias is the lateral join alias of each spread embed (related
	// orders on a spread read its columns there).
	spreadAlias map[*request.Embed]string
	// jsonOut: the body is builtin JSON, where domain representations apply.
	jsonOut bool
	// with is a WITH clause the statement starts with ("" for none).
	with string
	// legacyNamed are the aliased embeds scoped parameters named by relation.
	legacyNamed []*request.Embed
}

func (c *compiler) param(key any) string { return "$" + strconv.Itoa(c.vals.ids[key]) }

func (c *compiler) nextAlias(name string) string {
	c.alias++
	return name + "_" + strconv.Itoa(c.alias)
}

func compile(req *request.Request, snap *cache.Snapshot, opts Options, vals *values, cl *call) (*Plan, error) {
	c := &compiler{req: req, snap: snap, opts: opts, vals: vals}
	alias := req.Resource
	switch {
	case req.Action == request.ActRead:
		rel := snap.Relation(req.Schema, req.Resource)
		if rel == nil {
			return nil, notFound(snap, req.Schema, req.Resource)
		}
		return c.query(rel, ident(rel.Schema)+"."+ident(rel.Name)+" AS "+ident(alias), nil)
	case req.Action == request.ActInvoke && cl != nil:
		from := c.callSource(cl, alias)
		readOnly := req.Method != http.MethodPost || cl.fn.Volatility != cache.Volatile
		if req.Prefs.Count == "exact" && !readOnly {
			// Counting reads the rows a second time: a call that may write
			// must still run once, so its rows are materialized first.
			c.with = "WITH pgrst_source AS (SELECT " + ident(alias) + ".* FROM " + from + ") "
			from = "pgrst_source AS " + ident(alias)
		}
		p, err := c.query(callResult(snap, cl.fn), from, cl.fn)
		if err != nil {
			return nil, err
		}
		p.ReadOnly = readOnly
		p.Volatile = cl.fn.Volatility == cache.Volatile
		p.NoContent = cl.fn.ReturnKind == cache.ReturnsVoid
		p.Settings = hoisted(cl.fn, opts.HoistedSettings)
		return p, nil
	}
	return nil, apierr.NotImplemented("this kind of request")
}

// query compiles a read of rel's rows from the FROM item from: a table or
// view, or a function call (fn set) whose result may be a scalar or a
// single row.
func (c *compiler) query(rel *cache.Relation, from string, fn *cache.Function) (*Plan, error) {
	req, opts, vals := c.req, c.opts, c.vals
	alias := req.Resource
	media, err := negotiate(req, opts, c.offerFor(rel, fn))
	if err != nil {
		return nil, err
	}
	c.jsonOut = media.json()
	if !opts.AggregatesEnabled && hasAggregate(req.Select) {
		return nil, apierr.New(http.StatusBadRequest, "PGRST123", "Use of aggregate functions is not allowed", "", "")
	}
	if err = c.checkEmbedFilters(req.Select, nil); err != nil {
		return nil, err
	}
	l := &level{cols: []string{ident(alias) + ".pgrst_scalar"}, names: []string{"pgrst_scalar"}}
	if fn != nil && fn.ReturnKind != cache.ReturnsComposite {
		media.scalar = true
	} else if l, err = c.selectList(rel, alias, req.Select, nil, false); err != nil {
		return nil, err
	}
	cols, names := l.selectSQL(), l.names
	from += l.joinSQL()
	if fn != nil && !fn.ReturnsSet {
		media.unwrap = true
	}
	where, err := c.whereClause(rel, alias, req.Select, nil)
	if err != nil {
		return nil, err
	}
	where += l.groupSQL()
	order, err := c.orderClause(rel, alias, req.Select, nil)
	if err != nil {
		return nil, err
	}
	offset, limit := c.rangeFor(nil)
	if opts.MaxRows != nil && (limit == nil || *limit > *opts.MaxRows) {
		limit = opts.MaxRows
	}
	var q strings.Builder
	q.WriteString("SELECT ")
	q.WriteString(cols)
	q.WriteString(" FROM ")
	q.WriteString(from)
	q.WriteString(where)
	q.WriteString(order)
	if limit != nil {
		q.WriteString(" LIMIT " + strconv.FormatInt(*limit, 10))
	}
	if offset > 0 {
		q.WriteString(" OFFSET " + strconv.FormatInt(offset, 10))
	}

	p := &Plan{ReadOnly: true, MediaType: media.contentType, Offset: offset, Singular: media.singular, Args: vals.args, Count: req.Prefs.Count,
		Warning: c.legacyWarning(req.Select)}
	total := "NULL::bigint"
	switch req.Prefs.Count {
	case "exact":
		total = "(SELECT pg_catalog.count(*) FROM " + from + where + ")"
	case "planned":
		p.CountSQL = "SELECT 1 FROM " + from + where
	case "estimated":
		p.CountSQL = "SELECT 1 FROM " + from + where
		p.EstimateAbove = opts.MaxRows
		if opts.MaxRows != nil {
			total = "(SELECT pg_catalog.count(*) FROM (" + p.CountSQL + " LIMIT " + strconv.FormatInt(*opts.MaxRows+1, 10) + ") _pgrest_c)"
		} else {
			total = "(SELECT pg_catalog.count(*) FROM " + from + where + ")"
		}
	}
	var sql strings.Builder
	sql.WriteString(c.with)
	sql.WriteString("SELECT ")
	sql.WriteString(total)
	sql.WriteString(" AS total, pg_catalog.count(_pgrest_t) AS page_total, ")
	sql.WriteString(bodyColumns(media, names))
	sql.WriteString(", " + responseSettings + " FROM (")
	sql.WriteString(q.String())
	sql.WriteString(") _pgrest_t")
	p.SQL = sql.String()
	if media.explain != "" {
		// The plan is the whole statement's, aggregation included.
		p.Explain = media.explain
		p.CountSQL = ""
	}
	return p, nil
}

// bodyColumns are the body and body_bytes result columns.
func bodyColumns(m *media, names []string) string {
	text, bytes := m.body(names)
	return text + " AS body, " + bytes + " AS body_bytes"
}

// responseSettings are the result columns carrying response.headers and
// response.status as SQL left them.
const responseSettings = "nullif(current_setting('response.headers', true), '') AS response_headers, nullif(current_setting('response.status', true), '') AS response_status"

// rangeFor returns the offset and limit for the embed at path.
func (c *compiler) rangeFor(path []string) (int64, *int64) {
	for _, r := range c.req.Ranges {
		if request.SamePath(r.Path, path) {
			return r.Offset, r.Limit
		}
	}
	return 0, nil
}

// field renders a column with its JSON path, every key a parameter.
// A column of another type than json or jsonb (of rel, nil when unknown)
// reads a path through to_jsonb, as PostgREST does.
func (c *compiler) field(rel *cache.Relation, alias string, f *request.Field) string {
	if f.Name == "*" {
		return ident(alias) + ".*"
	}
	s := ident(alias) + "." + ident(f.Name)
	if len(f.Path) > 0 && rel != nil {
		if col := rel.Column(f.Name); col != nil && col.BaseType != "json" && col.BaseType != "jsonb" {
			s = "to_jsonb(" + s + ")"
		}
	}
	for i := range f.Path {
		op := &f.Path[i]
		arrow := "->"
		if op.Text {
			arrow = "->>"
		}
		// a key is left untyped, like PostgREST's literal: the operator
		// takes it as text, and the error of a wrong operator names it
		// unknown
		cast := ""
		if op.IsIndex() {
			cast = "::int"
		}
		s += arrow + c.param(op) + cast
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

// selectList compiles the columns of one level. A spread level (hoisting)
// selects its aggregates' arguments and leaves the aggregates to the level
// that embeds it.
func (c *compiler) selectList(rel *cache.Relation, alias string, items []request.SelectItem, path []string, hoisting bool) (*level, error) {
	if len(items) == 0 {
		items = []request.SelectItem{{Field: request.Field{Name: "*"}}}
	}
	l := &level{}
	for i := range items {
		it := &items[i]
		switch {
		case it.Embed != nil && it.Embed.Spread:
			if err := c.spread(l, rel, alias, it.Embed, append(append([]string{}, path...), embedKey(it.Embed)), hoisting); err != nil {
				return nil, err
			}
		case it.Embed != nil:
			if emptyEmbed(it.Embed) {
				if err := c.resolveAll(rel, it.Embed); err != nil {
					return nil, err
				}
				continue // rel() only filters
			}
			sub, name, err := c.embed(rel, alias, it.Embed, append(append([]string{}, path...), embedKey(it.Embed)))
			if err != nil {
				return nil, err
			}
			l.add(sub, name, true) // jsonb groups
		case it.Field.Name == "*" && it.Aggregate == "":
			c.star(l, rel, alias)
		case !validCast(it.Cast) || !validCast(it.AggregateCast):
			return nil, apierr.ParseError("\"failed to parse select parameter\"", "invalid cast type")
		case it.Aggregate != "" && hoisting:
			arg, name := "1", it.Alias
			if it.Field.Name != "" && it.Field.Name != "*" {
				arg = c.castExpr(c.field(rel, alias, &it.Field), it.Cast)
				if name == "" {
					name = outputName(it)
				}
			} else if name == "" {
				name = "count"
			}
			if l.hoisted == nil {
				l.hoisted = map[string]hoist{}
			}
			l.hoisted[name] = hoist{fn: it.Aggregate, cast: it.AggregateCast, alias: it.Alias}
			l.add(arg, name, false)
		case it.Aggregate != "":
			l.agg = true
			expr := "pg_catalog.count(*)"
			if it.Field.Name != "" && it.Field.Name != "*" {
				expr = it.Aggregate + "(" + c.castExpr(c.field(rel, alias, &it.Field), it.Cast) + ")"
			}
			name := it.Alias
			if name == "" {
				name = it.Aggregate
			}
			l.add(c.castExpr(expr, it.AggregateCast), name, false)
		default:
			// a domain's representation applies first, a cast on top
			expr := c.field(rel, alias, &it.Field)
			if c.jsonOut {
				if fn := c.representation(rel, &it.Field, toJSON); fn != "" {
					expr = fn + "(" + expr + ")"
				}
			}
			l.add(c.castExpr(expr, it.Cast), outputName(it), true)
		}
	}
	return l, nil
}

// star selects every column of rel; a domain representation needs each
// column spelled out.
func (c *compiler) star(l *level, rel *cache.Relation, alias string) {
	var own []string
	spelled := false
	for _, col := range rel.Columns {
		expr := ident(alias) + "." + ident(col.Name)
		if fn := c.representation(rel, &request.Field{Name: col.Name}, toJSON); fn != "" && c.jsonOut {
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
			l.cols = append(l.cols, ident(alias)+".*")
		}
		return
	}
	l.cols = append(l.cols, ident(alias)+".*")
	for i, col := range rel.Columns {
		l.names = append(l.names, col.Name)
		l.groupBy = append(l.groupBy, own[i])
	}
}

func hasAggregate(items []request.SelectItem) bool {
	for _, it := range items {
		if it.Aggregate != "" || (it.Embed != nil && hasAggregate(it.Embed.Select)) {
			return true
		}
	}
	return false
}

func toJSON(r *cache.Representation) *cache.QI { return r.ToJSON }

// representation returns the function of a domain representation cast
// that applies to a plain column of rel (which picks it), "" when none.
func (c *compiler) representation(rel *cache.Relation, f *request.Field, pick func(*cache.Representation) *cache.QI) string {
	if rel == nil || len(f.Path) > 0 || len(c.snap.Representations) == 0 {
		return ""
	}
	col := rel.Column(f.Name)
	if col == nil {
		return ""
	}
	r := c.snap.Representations[col.Type]
	if r == nil {
		return ""
	}
	if fn := pick(r); fn != nil {
		return ident(fn.Schema) + "." + ident(fn.Name)
	}
	return ""
}

// outputName is a column's key in the response: its alias, else the last
// object key of its path (indexes name nothing), else its name.
func outputName(it *request.SelectItem) string {
	if it.Alias != "" {
		return it.Alias
	}
	// the last key of a path; for an array index the last key before it,
	// else the column's name
	for i := len(it.Field.Path) - 1; i >= 0; i-- {
		if op := it.Field.Path[i]; !op.IsIndex() {
			return op.Key
		}
	}
	return it.Field.Name
}

var typeName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*( [A-Za-z_][A-Za-z0-9_]*)?(\[\])?$`)

var typeAliases = map[string]string{
	"int": "int4", "integer": "int4", "bigint": "int8", "smallint": "int2", "real": "float4",
	"double precision": "float8", "boolean": "bool", "character varying": "varchar", "decimal": "numeric",
	"character": "bpchar", "char": "bpchar", "timestamp with time zone": "timestamptz",
}

// castExpr appends ::type; the type is validated and quoted, never pasted.
func (c *compiler) castExpr(expr, typ string) string {
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

func validCast(typ string) bool { return typ == "" || typeName.MatchString(typ) }

// whereClause combines the filters and logic trees of the level at path,
// plus the existence conditions of !inner and rel=[not.]is.null.
func (c *compiler) whereClause(rel *cache.Relation, alias string, items []request.SelectItem, path []string) (string, error) {
	var conds []string
	for i := range c.req.Filters {
		f := &c.req.Filters[i]
		if !request.SamePath(f.Path, path) {
			continue
		}
		if s, ok, err := c.embedNullFilter(rel, alias, items, path, f); ok || err != nil {
			if err != nil {
				return "", err
			}
			conds = append(conds, s)
			continue
		}
		s, err := c.filter(rel, alias, f)
		if err != nil {
			return "", err
		}
		conds = append(conds, s)
	}
	for i := range c.req.Logic {
		t := &c.req.Logic[i]
		if !request.SamePath(t.Path, path) {
			continue
		}
		s, err := c.logic(rel, alias, items, path, t)
		if err != nil {
			return "", err
		}
		conds = append(conds, s)
	}
	for i := range items {
		if e := items[i].Embed; e != nil && e.JoinType == "inner" {
			exists, err := c.existsEmbed(rel, alias, e, append(append([]string{}, path...), embedKey(e)))
			if err != nil {
				return "", err
			}
			conds = append(conds, exists)
		}
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), nil
}

// embedNullFilter renders rel=is.null / rel=not.is.null on an embed of
// the level as (NOT) EXISTS; ok is false for a plain column filter (a
// column may share an embed's name, and only is.null addresses the embed).
func (c *compiler) embedNullFilter(rel *cache.Relation, alias string, items []request.SelectItem, path []string, f *request.Filter) (string, bool, error) {
	e := findEmbed(items, f.Field.Name)
	if e == nil || len(f.Field.Path) > 0 {
		return "", false, nil
	}
	// Any other operator filters a column of that name, as in PostgREST
	// (which no longer refuses it with PGRST120).
	if f.Op.Op != "is" || (f.Op.Value != "null" && f.Op.Value != "not_null") {
		return "", false, nil
	}
	exists, err := c.existsEmbed(rel, alias, e, append(append([]string{}, path...), embedKey(e)))
	if err != nil {
		return "", true, err
	}
	if (f.Op.Value == "null") != f.Op.Negated {
		exists = "NOT " + exists
	}
	return exists, true, nil
}

func (c *compiler) logic(rel *cache.Relation, alias string, items []request.SelectItem, path []string, t *request.Logic) (string, error) {
	var parts []string
	for i := range t.Children {
		ch := &t.Children[i]
		var s string
		var err error
		var ok bool
		if ch.Filter != nil {
			if s, ok, err = c.embedNullFilter(rel, alias, items, path, ch.Filter); !ok && err == nil {
				s, err = c.filter(rel, alias, ch.Filter)
			}
		} else {
			s, err = c.logic(rel, alias, items, path, ch.Tree)
		}
		if err != nil {
			return "", err
		}
		parts = append(parts, s)
	}
	j := " AND "
	if t.Or {
		j = " OR "
	}
	s := "(" + strings.Join(parts, j) + ")"
	if t.Negated {
		s = "NOT " + s
	}
	return s, nil
}

var binaryOps = map[string]string{
	"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<=",
	"like": "LIKE", "ilike": "ILIKE", "match": "~", "imatch": "~*", "isdistinct": "IS DISTINCT FROM",
	"cs": "@>", "cd": "<@", "ov": "&&", "sl": "<<", "sr": ">>", "nxr": "&<", "nxl": "&>", "adj": "-|-",
}

var ftsFuncs = map[string]string{"fts": "to_tsquery", "plfts": "plainto_tsquery", "phfts": "phraseto_tsquery", "wfts": "websearch_to_tsquery"}

func (c *compiler) filter(rel *cache.Relation, alias string, f *request.Filter) (string, error) {
	col := c.field(rel, alias, &f.Field)
	o := &f.Op
	var s string
	// A domain with a cast from text reads filter values through it.
	if fn := c.representation(rel, &f.Field, func(r *cache.Representation) *cache.QI { return r.FromText }); fn != "" {
		switch {
		case o.Op == "in":
			s = col + " = ANY(ARRAY(SELECT " + fn + "(_pgrest_v) FROM unnest(" + c.param(f) + "::text[]) AS _pgrest_v))"
		case binaryOps[o.Op] != "" && o.Quant == "" && o.Op != "like" && o.Op != "ilike" && o.Op != "match" && o.Op != "imatch":
			s = col + " " + binaryOps[o.Op] + " " + fn + "(" + c.param(f) + "::text)"
		}
		if s != "" {
			if o.Negated {
				s = "NOT (" + s + ")"
			}
			return s, nil
		}
	}
	switch {
	case o.Op == "is":
		s = col + " IS " + map[string]string{"null": "NULL", "not_null": "NOT NULL", "true": "TRUE", "false": "FALSE", "unknown": "UNKNOWN"}[o.Value]
	case o.Op == "in":
		s = col + " = ANY(" + c.param(f) + ")"
	case ftsFuncs[o.Op] != "":
		lang := ""
		if o.Language != "" {
			lang = c.param(&o.Language) + "::regconfig, "
		}
		// Text and json columns are searched through to_tsvector in the
		// same configuration, as PostgREST does.
		if !columnIs(rel, f.Field.Name, "tsvector") {
			col = "to_tsvector(" + lang + col + ")"
		}
		s = col + " @@ " + ftsFuncs[o.Op] + "(" + lang + c.param(f) + ")"
	case o.Quant != "":
		op := binaryOps[o.Op]
		if op == "" || o.Op == "isdistinct" {
			return "", apierr.ParseError("\"failed to parse filter ("+o.Op+"("+o.Quant+"))\"", "any/all applies to eq, neq, gt, gte, lt, lte, like, ilike, match, imatch")
		}
		s = col + " " + op + " " + strings.ToUpper(o.Quant) + "(" + c.param(f) + ")"
	default:
		s = col + " " + binaryOps[o.Op] + " " + c.param(f)
	}
	if o.Negated {
		s = "NOT (" + s + ")"
	}
	return s, nil
}

func (c *compiler) orderClause(rel *cache.Relation, alias string, items []request.SelectItem, path []string) (string, error) {
	var terms []string
	for _, o := range c.req.Orders {
		if !request.SamePath(o.Path, path) {
			continue
		}
		for i := range o.Terms {
			t := &o.Terms[i]
			var s string
			if t.Relation != "" {
				var err error
				if s, err = c.relatedOrder(rel, alias, items, t); err != nil {
					return "", err
				}
			} else {
				s = c.field(rel, alias, &t.Field)
			}
			if t.Desc {
				s += " DESC"
			} else {
				s += " ASC"
			}
			switch t.Nulls {
			case request.NullsFirst:
				s += " NULLS FIRST"
			case request.NullsLast:
				s += " NULLS LAST"
			}
			terms = append(terms, s)
		}
	}
	if len(terms) == 0 {
		return "", nil
	}
	return " ORDER BY " + strings.Join(terms, ", "), nil
}

// notFound is PGRST205 with a "Perhaps you meant" hint.
func notFound(snap *cache.Snapshot, schema, name string) error {
	e := apierr.New(http.StatusNotFound, "PGRST205", "Could not find the table '"+schema+"."+name+"' in the schema cache", "", "")
	if best := closest(snap.RelationNames(schema), name); best != "" {
		e.Hint = "Perhaps you meant the table '" + schema + "." + best + "'"
	}
	return e
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
