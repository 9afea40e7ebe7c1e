package planner

import (
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/pgrest/pgrest/apierr"
	"github.com/pgrest/pgrest/cache"
	"github.com/pgrest/pgrest/request"
)

// embedKey is how filters, orders and ranges address an embed: its alias
// when it has one, else its name.
func embedKey(e *request.Embed) string {
	if e.Alias != "" {
		return e.Alias
	}
	return e.Name
}

func findEmbed(items []request.SelectItem, key string) *request.Embed {
	for i := range items {
		if e := items[i].Embed; e != nil && embedKey(e) == key {
			return e
		}
	}
	return nil
}

// emptyEmbed reports an embed that selects nothing: rel() or an embed of
// such embeds only; it only filters its parent.
func emptyEmbed(e *request.Embed) bool {
	if e.Select == nil {
		return false
	}
	for i := range e.Select {
		if sub := e.Select[i].Embed; sub == nil || !emptyEmbed(sub) {
			return false
		}
	}
	return true
}

// resolveAll resolves the relationships of an embed that selects nothing,
// for their errors.
func (c *compiler) resolveAll(parent *cache.Relation, e *request.Embed) error {
	_, target, err := c.relationship(parent, e)
	if err != nil {
		return err
	}
	for i := range e.Select {
		if sub := e.Select[i].Embed; sub != nil {
			if err := c.resolveAll(target, sub); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkEmbedFilters rejects a scoped parameter whose path names no embed
// in select (PGRST108).
func (c *compiler) checkEmbedFilters(items []request.SelectItem, _ []string) error {
	var paths [][]string
	for _, f := range c.req.Filters {
		paths = append(paths, f.Path)
	}
	for _, o := range c.req.Orders {
		paths = append(paths, o.Path)
	}
	for _, r := range c.req.Ranges {
		paths = append(paths, r.Path)
	}
	for _, l := range c.req.Logic {
		paths = append(paths, l.Path)
	}
	for _, path := range paths {
		level := items
		for i, k := range path {
			e := findEmbed(level, k)
			if e == nil {
				aliased := findAliasedTarget(level, k)
				if aliased == nil || !c.opts.LegacyTargetNames {
					return notEmbedded(k, aliased)
				}
				// The request's own path is rewritten: the compiled SQL is
				// keyed by the path as written, which always resolves alike.
				e, path[i] = aliased, aliased.Alias
				c.legacyNamed = append(c.legacyNamed, aliased)
			}
			level = e.Select
		}
	}
	return nil
}

// relationship resolves an embed from rel (PGRST200/PGRST201) the way
// PostgREST's findRel does: the target names a table or view, a
// constraint or a single foreign key column (those two only towards
// tables), or a computed relationship's function; a hint narrows a
// table target down by constraint, column on either side, or junction.
func (c *compiler) relationship(rel *cache.Relation, e *request.Embed) (*cache.Relationship, *cache.Relation, error) {
	var cands []*cache.Relationship
	for _, r := range c.visibleRelationships(rel.QI()) {
		if c.relMatches(r, e.Name, e.Hint) {
			cands = append(cands, r)
		}
	}
	if len(cands) == 0 {
		return nil, nil, c.noRelationship(rel, e)
	}
	if len(cands) > 1 {
		return nil, nil, ambiguous(rel, e, cands)
	}
	target := c.snap.Relations[cands[0].ForeignTable]
	if target == nil {
		return nil, nil, c.noRelationship(rel, e)
	}
	return cands[0], target, nil
}

// visibleRelationships are the relationships from qi, where a computed
// relationship whose function has the name of a foreign table replaces
// the foreign keys to that table, in PostgREST's order (foreign keys by
// cardinality and constraint, then computed ones). Only relationships
// within the origin's schema are embeddable.
func (c *compiler) visibleRelationships(qi cache.QI) []*cache.Relationship {
	all := c.snap.RelationshipsFrom(qi)
	overridden := map[cache.QI]bool{}
	for _, r := range all {
		if r.Computed != nil {
			overridden[*r.Computed] = true
		}
	}
	out := make([]*cache.Relationship, 0, len(all))
	for _, r := range all {
		if r.Computed == nil && overridden[r.ForeignTable] {
			continue
		}
		if far := r.ForeignTable; far.Schema == qi.Schema && (r.Computed == nil || r.Computed.Schema == qi.Schema) {
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return relLess(out[i], out[j]) })
	return out
}

var cardinalityRank = map[cache.Cardinality]int{cache.OneToMany: 0, cache.ManyToOne: 1, cache.OneToOne: 2, cache.ManyToMany: 3}

func relLess(a, b *cache.Relationship) bool {
	if (a.Computed == nil) != (b.Computed == nil) {
		return a.Computed == nil
	}
	if a.ForeignTable != b.ForeignTable {
		return a.ForeignTable.String() < b.ForeignTable.String()
	}
	if a.IsSelf != b.IsSelf {
		return !a.IsSelf
	}
	if ra, rb := cardinalityRank[a.Cardinality], cardinalityRank[b.Cardinality]; ra != rb {
		return ra < rb
	}
	if a.Junction != nil && b.Junction != nil {
		ka := a.Junction.Table.String() + " " + a.Junction.Constraint1 + " " + a.Junction.Constraint2
		kb := b.Junction.Table.String() + " " + b.Junction.Constraint1 + " " + b.Junction.Constraint2
		return ka < kb
	}
	return a.Constraint < b.Constraint
}

func (c *compiler) isView(qi cache.QI) bool {
	r := c.snap.Relations[qi]
	return r != nil && (r.Kind == cache.KindView || r.Kind == cache.KindMatView)
}

// relMatches is findRel's test of one relationship against target!hint.
func (c *compiler) relMatches(r *cache.Relationship, target, hint string) bool {
	if r.Computed != nil {
		return r.Computed.Name == target
	}
	toTable := r.ForeignTable.Name == target
	m2o := r.Cardinality == cache.ManyToOne
	o2m := r.Cardinality == cache.OneToMany
	if r.IsSelf && r.Junction == nil {
		if hint == "" {
			// children by the table's name, the parent by the column's
			return (toTable && o2m) || (m2o && singleCol(r.Columns, target))
		}
		return toTable && o2m && singleCol(r.ForeignColumns, hint)
	}
	fk := r.Junction == nil
	if hint == "" {
		if toTable {
			return true
		}
		if !fk || c.isView(r.ForeignTable) {
			return false
		}
		return r.Constraint == target || singleCol(r.Columns, target)
	}
	if !toTable {
		return false
	}
	if !fk {
		return r.Junction.Table.Name == hint
	}
	return r.Constraint == hint || singleCol(r.Columns, hint) || singleCol(r.ForeignColumns, hint)
}

func singleCol(cols []string, name string) bool { return len(cols) == 1 && cols[0] == name }

func (c *compiler) noRelationship(rel *cache.Relation, e *request.Embed) error {
	using := ""
	if e.Hint != "" {
		using = "' using the hint '" + e.Hint
	}
	err := apierr.New(http.StatusBadRequest, "PGRST200",
		"Could not find a relationship between '"+rel.Name+"' and '"+e.Name+"' in the schema cache",
		"Searched for a foreign key relationship between '"+rel.Name+"' and '"+e.Name+using+"' in the schema '"+rel.Schema+"', but no matches were found.",
		"")
	if h := c.noRelationshipHint(rel, e.Name); h != "" {
		err.Hint = h
	}
	return err
}

// noRelationshipHint suggests the nearest foreign table of the parent's
// relationships when the child is none of them, as PostgREST's fuzzy set
// ranks them (at its default 0.33, lower than table names' bar).
func (c *compiler) noRelationshipHint(rel *cache.Relation, child string) string {
	var names []string
	for _, r := range c.snap.RelationshipsFrom(rel.QI()) {
		if r.ForeignTable.Name == child {
			return ""
		}
		names = append(names, r.ForeignTable.Name)
	}
	sort.Strings(names)
	if best := fuzzyBest(names, child); best != "" {
		return "Perhaps you meant '" + best + "' instead of '" + child + "'."
	}
	return ""
}

func ambiguous(rel *cache.Relation, e *request.Embed, cands []*cache.Relationship) error {
	var details []map[string]string
	var hints []string
	for _, r := range cands {
		details = append(details, map[string]string{
			"cardinality":  cardinalityName(r.Cardinality),
			"embedding":    r.Table.Name + " with " + r.ForeignTable.Name,
			"relationship": describe(r),
		})
		h := r.Constraint
		if r.Junction != nil {
			h = r.Junction.Table.Name
		}
		hints = append(hints, "'"+r.ForeignTable.Name+"!"+h+"'")
	}
	err := apierr.New(http.StatusMultipleChoices, "PGRST201",
		"Could not embed because more than one relationship was found for '"+rel.Name+"' and '"+e.Name+"'", "",
		"Try changing '"+e.Name+"' to one of the following: "+strings.Join(hints, ", ")+". Find the desired relationship in the 'details' key.")
	err.Details = details
	return err
}

func cardinalityName(c cache.Cardinality) string {
	return map[cache.Cardinality]string{cache.ManyToOne: "many-to-one", cache.OneToMany: "one-to-many", cache.OneToOne: "one-to-one", cache.ManyToMany: "many-to-many"}[c]
}

func describe(r *cache.Relationship) string {
	cols := func(c []string) string { return "(" + strings.Join(c, ", ") + ")" }
	if j := r.Junction; j != nil {
		return j.Table.Name + " using " + j.Constraint1 + cols(j.SourceJunctionColumns) + " and " + j.Constraint2 + cols(j.TargetJunctionColumns)
	}
	return r.Constraint + " using " + r.Table.Name + cols(r.Columns) + " and " + r.ForeignTable.Name + cols(r.ForeignColumns)
}

// joinCondition links the embedded level (alias ea) to its parent (pa).
func joinCondition(r *cache.Relationship, pa, ea string) string {
	var conds []string
	if j := r.Junction; j != nil {
		ja := ea + "_j"
		var jc []string
		for i := range j.SourceColumns {
			jc = append(jc, ident(ja)+"."+ident(j.SourceJunctionColumns[i])+" = "+ident(pa)+"."+ident(j.SourceColumns[i]))
		}
		for i := range j.TargetColumns {
			jc = append(jc, ident(ja)+"."+ident(j.TargetJunctionColumns[i])+" = "+ident(ea)+"."+ident(j.TargetColumns[i]))
		}
		return "EXISTS (SELECT 1 FROM " + ident(j.Table.Schema) + "." + ident(j.Table.Name) + " AS " + ident(ja) + " WHERE " + strings.Join(jc, " AND ") + ")"
	}
	for i := range r.Columns {
		conds = append(conds, ident(ea)+"."+ident(r.ForeignColumns[i])+" = "+ident(pa)+"."+ident(r.Columns[i]))
	}
	return strings.Join(conds, " AND ")
}

// source is the FROM item of an embedded level (alias ea) under its parent
// (alias pa) and the condition that ties them: a foreign key's join
// condition, or none for a computed relationship, whose function takes the
// parent row (cast to the relation's row type, for parents that are CTEs).
func source(r *cache.Relationship, target *cache.Relation, pa, ea string) (string, string) {
	if f := r.Computed; f != nil {
		return " FROM " + ident(f.Schema) + "." + ident(f.Name) + "(" + ident(pa) + "::" + ident(r.Table.Schema) + "." + ident(r.Table.Name) + ") AS " + ident(ea), ""
	}
	return " FROM " + ident(target.Schema) + "." + ident(target.Name) + " AS " + ident(ea), joinCondition(r, pa, ea)
}

// subquery is the SELECT of an embedded level: its columns from the
// target, its spreads' joins, the filters and the parent condition.
func (c *compiler) subquery(r *cache.Relationship, target *cache.Relation, pa, ea string, l *level, where string) string {
	from, cond := source(r, target, pa, ea)
	return "SELECT " + l.selectSQL() + from + l.joinSQL() + andWhere(where, cond) + l.groupSQL()
}

// tail is the ORDER BY, LIMIT and OFFSET of the embedded level at path.
func (c *compiler) tail(target *cache.Relation, ea string, items []request.SelectItem, path []string) (string, error) {
	tail, err := c.orderClause(target, ea, items, path)
	if err != nil {
		return "", err
	}
	offset, limit := c.rangeFor(path)
	if m := c.opts.MaxRows; m != nil && !c.mutation() && (limit == nil || *limit > *m) {
		limit = m // max-rows caps every level of a read
	}
	if limit != nil {
		tail += " LIMIT " + itoa64(*limit)
	}
	if offset > 0 {
		tail += " OFFSET " + itoa64(offset)
	}
	return tail, nil
}

// mutation reports a write, whose embeds max-rows does not cap.
func (c *compiler) mutation() bool {
	switch c.req.Action {
	case request.ActCreate, request.ActUpdate, request.ActDelete, request.ActUpsert:
		return true
	}
	return false
}

// embed renders an embedded resource as a correlated subquery returning
// an object (to-one) or an array (to-many), as jsonb like PostgREST's (it
// shows in the text of custom media rows, and groups).
func (c *compiler) embed(parent *cache.Relation, pa string, e *request.Embed, path []string) (string, string, error) {
	r, target, err := c.relationship(parent, e)
	if err != nil {
		return "", "", err
	}
	ea := c.nextAlias(target.Name)
	l, err := c.selectList(target, ea, e.Select, path, false)
	if err != nil {
		return "", "", err
	}
	where, err := c.whereClause(target, ea, e.Select, path)
	if err != nil {
		return "", "", err
	}
	tail, err := c.tail(target, ea, e.Select, path)
	if err != nil {
		return "", "", err
	}
	inner := c.subquery(r, target, pa, ea, l, where) + tail
	name := embedKey(e)
	if r.ToOne {
		return "(SELECT row_to_json(_pgrest_e)::jsonb FROM (" + inner + ") _pgrest_e)", name, nil
	}
	return "(SELECT coalesce(json_agg(_pgrest_e), '[]')::jsonb FROM (" + inner + ") _pgrest_e)", name, nil
}

// existsEmbed is the condition "the embed has a matching row", with the
// embed's own filters.
func (c *compiler) existsEmbed(parent *cache.Relation, pa string, e *request.Embed, path []string) (string, error) {
	r, target, err := c.relationship(parent, e)
	if err != nil {
		return "", err
	}
	ea := c.nextAlias(target.Name)
	where, err := c.whereClause(target, ea, e.Select, path)
	if err != nil {
		return "", err
	}
	from, cond := source(r, target, pa, ea)
	return "EXISTS (SELECT 1" + from + andWhere(where, cond) + ")", nil
}

// relatedOrder orders by a column of a to-one embed: order=rel(col). A
// spread's columns are read from its lateral join.
func (c *compiler) relatedOrder(rel *cache.Relation, alias string, items []request.SelectItem, t *request.OrderTerm) (string, error) {
	e := findEmbed(items, t.Relation)
	if e == nil {
		return "", apierr.New(http.StatusBadRequest, "PGRST108",
			"'"+t.Relation+"' is not an embedded resource in this request", "",
			"Verify that '"+t.Relation+"' is included in the 'select' query parameter.")
	}
	r, target, err := c.relationship(rel, e)
	if err != nil {
		return "", err
	}
	if !r.ToOne {
		return "", apierr.New(http.StatusBadRequest, "PGRST118",
			"A related order on '"+embedKey(e)+"' is not possible",
			"'"+rel.Name+"' and '"+embedKey(e)+"' do not form a many-to-one or one-to-one relationship", "")
	}
	if sa, ok := c.spreadAlias[e]; ok {
		return c.field(nil, sa, &t.Field), nil
	}
	ea := c.nextAlias(target.Name)
	from, cond := source(r, target, alias, ea)
	return "(SELECT " + c.field(target, ea, &t.Field) + from + andWhere("", cond) + ")", nil
}

// spread lifts the columns of ...rel(...) into the level l from a lateral
// join: the row of a to-one embed, or for a to-many one an array per
// column. Aggregates in a to-one spread apply at the first level that is
// not itself spread (grouped by the other columns there).
func (c *compiler) spread(l *level, parent *cache.Relation, pa string, e *request.Embed, path []string, hoisting bool) error {
	r, target, err := c.relationship(parent, e)
	if err != nil {
		return err
	}
	if e.Select != nil && len(e.Select) == 0 {
		return nil // ...rel() only filters
	}
	ea, sa := c.nextAlias(target.Name), c.nextAlias(target.Name)
	if c.spreadAlias == nil {
		c.spreadAlias = map[*request.Embed]string{}
	}
	c.spreadAlias[e] = sa
	inner, err := c.selectList(target, ea, e.Select, path, r.ToOne)
	if err != nil {
		return err
	}
	if len(inner.names) == 0 {
		return nil
	}
	where, err := c.whereClause(target, ea, e.Select, path)
	if err != nil {
		return err
	}
	sub := c.subquery(r, target, pa, ea, inner, where)
	if !r.ToOne {
		tail, err := c.tail(target, ea, e.Select, path)
		if err != nil {
			return err
		}
		var aggs []string
		for _, n := range inner.names {
			aggs = append(aggs, "json_agg(_pgrest_s."+ident(n)+") AS "+ident(n))
		}
		l.joins = append(l.joins, "LEFT JOIN LATERAL (SELECT "+strings.Join(aggs, ", ")+" FROM ("+sub+tail+") _pgrest_s) AS "+ident(sa)+" ON TRUE")
		for _, n := range inner.names {
			l.add("coalesce("+ident(sa)+"."+ident(n)+", '[]')", n, false)
		}
		return nil
	}
	l.joins = append(l.joins, "LEFT JOIN LATERAL ("+sub+") AS "+ident(sa)+" ON TRUE")
	for _, n := range inner.names {
		ref := ident(sa) + "." + ident(n)
		h, ok := inner.hoisted[n]
		switch {
		case ok && hoisting:
			if l.hoisted == nil {
				l.hoisted = map[string]hoist{}
			}
			l.hoisted[n] = h
			l.add(ref, n, false)
		case ok:
			l.agg = true
			name := h.alias
			if name == "" {
				name = h.fn
			}
			l.add(c.castExpr(h.fn+"("+ref+")", h.cast), name, false)
		default:
			l.add(ref, n, true)
		}
	}
	return nil
}

// andWhere adds a condition (none when "") to a (possibly empty) WHERE
// clause.
func andWhere(where, cond string) string {
	switch {
	case cond == "":
		return where
	case where == "":
		return " WHERE " + cond
	}
	return where + " AND " + cond
}

// legacyWarning is PostgREST's Warning text for aliased embeds named by
// their relation, one "`name` to `alias`" per embed in select order; ""
// when there are none.
func (c *compiler) legacyWarning(items []request.SelectItem) string {
	if len(c.legacyNamed) == 0 {
		return ""
	}
	var pairs []string
	var walk func(items []request.SelectItem)
	walk = func(items []request.SelectItem) {
		for _, it := range items {
			if e := it.Embed; e != nil {
				if slices.Contains(c.legacyNamed, e) {
					pairs = append(pairs, "`"+e.Name+"` to `"+e.Alias+"`")
				}
				walk(e.Select)
			}
		}
	}
	walk(items)
	return "Embedded resource was referenced by relation name even though it has an alias. This is deprecated and will stop working in a future release. Update " +
		strings.Join(pairs, ", ") + " in query string filters, orders or limits."
}

// findAliasedTarget is the embed of relation name that an alias renames.
func findAliasedTarget(items []request.SelectItem, name string) *request.Embed {
	for i := range items {
		if e := items[i].Embed; e != nil && e.Alias != "" && e.Name == name {
			return e
		}
	}
	return nil
}

// notEmbedded is PGRST108; naming an aliased embed by its relation gets
// the alias to use instead.
func notEmbedded(k string, aliased *request.Embed) error {
	msg := "'" + k + "' is not an embedded resource in this request"
	if aliased != nil {
		return apierr.New(http.StatusBadRequest, "PGRST108", msg, "Target names are not allowed in filters if they have an alias",
			"Change '"+k+"' to '"+aliased.Alias+"' in filters, orders or limits.")
	}
	return apierr.New(http.StatusBadRequest, "PGRST108", msg, "", "Verify that '"+k+"' is included in the 'select' query parameter.")
}
