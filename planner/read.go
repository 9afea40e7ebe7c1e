package planner

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/pgrest/pgrest/cache"
	"github.com/pgrest/pgrest/server/apierr"
	"github.com/pgrest/pgrest/server/request"
)

func ident(s string) string { return pgx.Identifier{s}.Sanitize() }

// compiler holds the state of one compilation.
type compiler struct {
	req   *request.Request
	snap  *cache.Snapshot
	opts  Options
	vals  *values
	alias int
	// groupBy holds the non-aggregated columns of a level with aggregates.
	groupBy []string
	// jsonOut: the body is builtin JSON, where domain representations apply.
	jsonOut bool
	// maxRows caps every level of a read (db-max-rows); writes leave it nil.
	maxRows *int64
	// legacyNamed are the aliased embeds scoped parameters named by relation.
	legacyNamed []*request.Embed
}

func (c *compiler) param(key any) string { return "$" + strconv.Itoa(c.vals.ids[key]) }

func (c *compiler) nextAlias(name string) string {
	c.alias++
	return name + "_" + strconv.Itoa(c.alias)
}

func compile(req *request.Request, snap *cache.Snapshot, opts Options, vals *values, cl *call) (*Plan, error) {
	c := &compiler{req: req, snap: snap, opts: opts, vals: vals, maxRows: opts.MaxRows}
	alias := req.Resource
	switch {
	case req.Action == request.ActRead:
		rel := snap.Relation(req.Schema, req.Resource)
		if rel == nil {
			return nil, notFound(snap, req.Schema, req.Resource)
		}
		return c.query(rel, ident(rel.Schema)+"."+ident(rel.Name)+" AS "+ident(alias), nil)
	case req.Action == request.ActInvoke && cl != nil:
		p, err := c.query(callResult(snap, cl.fn), c.callSource(cl, alias), cl.fn)
		if err != nil {
			return nil, err
		}
		p.ReadOnly = req.Method != http.MethodPost || cl.fn.Volatility != cache.Volatile
		p.NoContent = cl.fn.ReturnKind == cache.ReturnsVoid
		p.Settings = hoisted(cl.fn, opts.HoistedSettings)
		return p, nil
	}
	return nil, apierr.New(http.StatusNotImplemented, "PGREST501", "This kind of request is not supported by pgrest yet", "", "")
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
	if err := c.checkEmbedFilters(req.Select, nil); err != nil {
		return nil, err
	}
	var cols string
	var names []string
	if fn != nil && fn.ReturnKind != cache.ReturnsComposite {
		cols, names = ident(alias)+".pgrst_scalar", []string{"pgrst_scalar"}
		media.scalar = true
	} else if cols, names, err = c.selectList(rel, alias, req.Select, nil); err != nil {
		return nil, err
	}
	groupBy := c.groupByClause()
	if fn != nil && !fn.ReturnsSet {
		media.unwrap = true
	}
	where, err := c.whereClause(rel, alias, req.Select, nil)
	if err != nil {
		return nil, err
	}
	where += groupBy
	order, err := c.orderClause(rel, alias, req.Select, nil)
	if err != nil {
		return nil, err
	}
	offset, limit := c.rangeFor(nil)
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
	sql.WriteString("SELECT ")
	sql.WriteString(total)
	sql.WriteString(" AS total, pg_catalog.count(_pgrest_t) AS page_total, ")
	sql.WriteString(bodyColumns(media, names))
	sql.WriteString(", " + responseSettings + " FROM (")
	sql.WriteString(q.String())
	sql.WriteString(") _pgrest_t")
	p.SQL = sql.String()
	if media.explain != "" {
		p.Explain = media.explain
		p.SQL = q.String()
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

// rangeFor returns the offset and limit for the embed at path, within
// db-max-rows on reads.
func (c *compiler) rangeFor(path []string) (int64, *int64) {
	var offset int64
	var limit *int64
	for _, r := range c.req.Ranges {
		if request.SamePath(r.Path, path) {
			offset, limit = r.Offset, r.Limit
			break
		}
	}
	if c.maxRows != nil && (limit == nil || *limit > *c.maxRows) {
		limit = c.maxRows
	}
	return offset, limit
}

// field renders a column of rel with its JSON path, every key a parameter.
// Keys stay untyped like PostgREST's literals (the operator picks text),
// indexes are ints. A path on a column that is not json or jsonb (an
// array, a composite, a column pgrest does not know) reads it through
// to_jsonb, as PostgREST does.
func (c *compiler) field(rel *cache.Relation, alias string, f *request.Field) string {
	if f.Name == "*" {
		return ident(alias) + ".*"
	}
	s := ident(alias) + "." + ident(f.Name)
	if len(f.Path) == 0 {
		return s
	}
	if !columnIs(rel, f.Name, "json", "jsonb") {
		s = "to_jsonb(" + s + ")"
	}
	for i := range f.Path {
		op := &f.Path[i]
		arrow := "->"
		if op.Text {
			arrow = "->>"
		}
		s += arrow + c.param(op)
		if op.IsIndex() {
			s += "::int"
		}
	}
	return s
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

// selectList renders the columns of one level; names are the output
// column names (for CSV headers).
func (c *compiler) selectList(rel *cache.Relation, alias string, items []request.SelectItem, path []string) (string, []string, error) {
	if len(items) == 0 {
		items = []request.SelectItem{{Field: request.Field{Name: "*"}}}
	}
	var cols, names []string
	var groupBy []string
	hasAgg := false
	for i := range items {
		it := &items[i]
		switch {
		case it.Embed != nil && it.Embed.Spread:
			sc, sn, err := c.spread(rel, alias, it.Embed, append(append([]string{}, path...), embedKey(it.Embed)))
			if err != nil {
				return "", nil, err
			}
			cols = append(cols, sc...)
			names = append(names, sn...)
		case it.Embed != nil:
			if emptyEmbed(it.Embed) {
				continue // rel() only filters
			}
			sub, name, err := c.embed(rel, alias, it.Embed, append(append([]string{}, path...), embedKey(it.Embed)))
			if err != nil {
				return "", nil, err
			}
			cols = append(cols, sub+" AS "+ident(name))
			names = append(names, name)
		case it.Field.Name == "*":
			star := ident(alias) + ".*"
			var own []string
			for _, col := range rel.Columns {
				names = append(names, col.Name)
				expr := ident(alias) + "." + ident(col.Name)
				if fn := c.representation(rel, &request.Field{Name: col.Name}, toJSON); fn != "" && c.jsonOut {
					star = ""
					expr = fn + "(" + expr + ")"
				}
				own = append(own, expr+" AS "+ident(col.Name))
			}
			if star == "" { // a domain representation needs each column spelled out
				cols = append(cols, own...)
			} else {
				cols = append(cols, star)
			}
		case !validCast(it.Cast) || !validCast(it.AggregateCast):
			return "", nil, apierr.ParseError("\"failed to parse select parameter\"", "invalid cast type")
		case it.Aggregate != "":
			hasAgg = true
			expr := "pg_catalog.count(*)"
			if it.Field.Name != "" {
				expr = it.Aggregate + "(" + c.castExpr(c.field(rel, alias, &it.Field), it.Cast) + ")"
			}
			expr = c.castExpr(expr, it.AggregateCast)
			name := it.Alias
			if name == "" {
				name = it.Aggregate
			}
			cols = append(cols, expr+" AS "+ident(name))
			names = append(names, name)
		default:
			// A domain's representation formats the column; a cast applies on top.
			expr := c.field(rel, alias, &it.Field)
			if c.jsonOut {
				if fn := c.representation(rel, &it.Field, toJSON); fn != "" {
					expr = fn + "(" + expr + ")"
				}
			}
			expr = c.castExpr(expr, it.Cast)
			name := outputName(it)
			cols = append(cols, expr+" AS "+ident(name))
			names = append(names, name)
			groupBy = append(groupBy, expr)
		}
	}
	if len(cols) == 0 {
		return "NULL AS " + ident("_pgrest_empty"), nil, nil
	}
	out := strings.Join(cols, ", ")
	// The caller reads the level's GROUP BY right after: nested levels
	// have set theirs already.
	c.groupBy = nil
	if hasAgg {
		c.groupBy = groupBy
	}
	return out, names, nil
}

// emptyEmbed reports whether an embed selects nothing: rel(), or only
// embeds that select nothing themselves, rel(other()). It still filters.
func emptyEmbed(e *request.Embed) bool {
	if e.Select == nil || e.Spread {
		return false
	}
	for _, it := range e.Select {
		if it.Embed == nil || !emptyEmbed(it.Embed) {
			return false
		}
	}
	return true
}

func hasAggregate(items []request.SelectItem) bool {
	for _, it := range items {
		if it.Aggregate != "" || (it.Embed != nil && hasAggregate(it.Embed.Select)) {
			return true
		}
	}
	return false
}

// groupByClause takes the GROUP BY of the level selectList compiled last.
func (c *compiler) groupByClause() string {
	g := c.groupBy
	c.groupBy = nil
	if len(g) == 0 {
		return ""
	}
	return " GROUP BY " + strings.Join(g, ", ")
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
		s, err := c.levelFilter(rel, alias, items, path, f)
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

// levelFilter renders a filter of the level at path. rel=[not.]is.null on
// an embed of that level (no JSON path) tests whether it has rows, in
// logic trees too; any other operator filters a column of that name, as
// in PostgREST.
func (c *compiler) levelFilter(rel *cache.Relation, alias string, items []request.SelectItem, path []string, f *request.Filter) (string, error) {
	e := findEmbed(items, f.Field.Name)
	if e == nil || len(f.Field.Path) > 0 || f.Op.Op != "is" || (f.Op.Value != "null" && f.Op.Value != "not_null") {
		return c.filter(rel, alias, f)
	}
	exists, err := c.existsEmbed(rel, alias, e, append(append([]string{}, path...), embedKey(e)))
	if err != nil {
		return "", err
	}
	if (f.Op.Value == "null") != f.Op.Negated {
		exists = "NOT " + exists
	}
	return exists, nil
}

func (c *compiler) logic(rel *cache.Relation, alias string, items []request.SelectItem, path []string, t *request.Logic) (string, error) {
	var parts []string
	for i := range t.Children {
		ch := &t.Children[i]
		var s string
		var err error
		if ch.Filter != nil {
			s, err = c.levelFilter(rel, alias, items, path, ch.Filter)
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

// notFound is PGRST205, with a hint only for a close enough table name.
func notFound(snap *cache.Snapshot, schema, name string) error {
	e := apierr.New(http.StatusNotFound, "PGRST205", "Could not find the table '"+schema+"."+name+"' in the schema cache", "", "")
	if best := fuzzyBest(snap.RelationNames(schema), name, nameHintScore); best != "" {
		e.Hint = "Perhaps you meant the table '" + schema + "." + best + "'"
	}
	return e
}

// levenshtein is the edit distance between a and b, in characters.
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur := make([]int, len(rb)+1)
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(rb)]
}
