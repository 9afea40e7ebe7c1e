package planner

import (
	"net/http"
	"slices"
	"strings"

	"github.com/pgrest/pgrest/cache"
	"github.com/pgrest/pgrest/server/apierr"
	"github.com/pgrest/pgrest/server/request"
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

// relationship resolves an embed from rel (PGRST200/PGRST201).
func (c *compiler) relationship(rel *cache.Relation, e *request.Embed) (*cache.Relationship, *cache.Relation, error) {
	var cands []*cache.Relationship
	for _, r := range c.snap.RelationshipsFrom(rel.QI()) {
		if !targetMatches(r, e.Name, c.snap.Relations[r.ForeignTable]) {
			continue
		}
		if e.Hint != "" && !hintMatches(r, e.Hint) {
			continue
		}
		cands = append(cands, r)
	}
	var computed []*cache.Relationship
	for _, r := range cands {
		if r.Computed != nil && r.Computed.Name == e.Name {
			computed = append(computed, r)
		}
	}
	if len(computed) > 0 { // a computed relationship overrides a foreign key of the same name
		cands = computed
	}
	if len(cands) == 0 {
		return nil, nil, apierr.New(http.StatusBadRequest, "PGRST200",
			"Could not find a relationship between '"+rel.Name+"' and '"+e.Name+"' in the schema cache",
			"Searched for a foreign key relationship between '"+rel.Name+"' and '"+e.Name+"' in the schema '"+rel.Schema+"', but no matches were found.",
			noRelHint(c.snap, rel, e.Name))
	}
	if len(cands) > 1 && e.Hint != "" {
		// A column hint names the embedding side's own columns first
		// (a self-reference matches both directions otherwise).
		var own []*cache.Relationship
		for _, r := range cands {
			for _, col := range r.Columns {
				if col == e.Hint {
					own = append(own, r)
				}
			}
		}
		if len(own) == 1 {
			cands = own
		}
	}
	if len(cands) > 1 {
		var details []map[string]string
		for _, r := range cands {
			details = append(details, map[string]string{
				"cardinality":  cardinalityName(r.Cardinality),
				"embedding":    rel.Name + " with " + r.ForeignTable.Name,
				"relationship": r.Constraint + " using " + describe(r),
			})
		}
		err := apierr.New(http.StatusMultipleChoices, "PGRST201",
			"Could not embed because more than one relationship was found for '"+rel.Name+"' and '"+e.Name+"'", "",
			"Try changing '"+e.Name+"' to one of the following: "+suggestions(e.Name, cands)+". Find the desired relationship in the 'details' key.")
		err.Details = details
		return nil, nil, err
	}
	target := c.snap.Relations[cands[0].ForeignTable]
	if target == nil {
		return nil, nil, apierr.New(http.StatusBadRequest, "PGRST200", "Could not find a relationship between '"+rel.Name+"' and '"+e.Name+"' in the schema cache", "", "")
	}
	return cands[0], target, nil
}

// targetMatches tells whether an embed's name designates r (whose target
// is the relation target), as PostgREST reads it: a computed relationship
// by its function's name only; a foreign key by the target's name, or,
// when the target is no view, by the constraint or the one column of the
// origin it uses (col(...) embeds through that column).
func targetMatches(r *cache.Relationship, name string, target *cache.Relation) bool {
	if r.Computed != nil {
		return r.Computed.Name == name
	}
	if r.ForeignTable.Name == name {
		return true
	}
	if target != nil && (target.Kind == cache.KindView || target.Kind == cache.KindMatView) {
		return false
	}
	return r.Constraint == name || (r.Junction == nil && len(r.Columns) == 1 && r.Columns[0] == name)
}

func hintMatches(r *cache.Relationship, hint string) bool {
	if r.Constraint == hint {
		return true
	}
	if r.Junction != nil {
		return r.Junction.Table.Name == hint || r.Junction.Constraint1 == hint || r.Junction.Constraint2 == hint
	}
	for _, c := range r.Columns {
		if c == hint {
			return true
		}
	}
	for _, c := range r.ForeignColumns {
		if c == hint {
			return true
		}
	}
	return false
}

func cardinalityName(c cache.Cardinality) string {
	return map[cache.Cardinality]string{cache.ManyToOne: "many-to-one", cache.OneToMany: "one-to-many", cache.OneToOne: "one-to-one", cache.ManyToMany: "many-to-many"}[c]
}

func describe(r *cache.Relationship) string {
	if r.Junction != nil {
		return r.Junction.Table.String()
	}
	return r.Table.String() + "(" + strings.Join(r.Columns, ", ") + ") and " + r.ForeignTable.String() + "(" + strings.Join(r.ForeignColumns, ", ") + ")"
}

func suggestions(name string, cands []*cache.Relationship) string {
	var s []string
	for _, r := range cands {
		h := r.Constraint
		if r.Junction != nil {
			h = r.Junction.Table.Name
		}
		s = append(s, "'"+name+"!"+h+"'")
	}
	return strings.Join(s, ", ")
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
// (alias pa), with the WHERE clause that ties them: a foreign key's join
// condition, or none for a computed relationship, whose function takes the
// parent row (cast to the relation's row type, for parents that are CTEs).
func source(r *cache.Relationship, target *cache.Relation, pa, ea, where string) string {
	if f := r.Computed; f != nil {
		from := " FROM " + ident(f.Schema) + "." + ident(f.Name) + "(" + ident(pa) + "::" + ident(r.Table.Schema) + "." + ident(r.Table.Name) + ") AS " + ident(ea)
		return from + where
	}
	return " FROM " + ident(target.Schema) + "." + ident(target.Name) + " AS " + ident(ea) + andWhere(where, joinCondition(r, pa, ea))
}

// embed renders an embedded resource as a correlated subquery returning
// an object (to-one) or an array (to-many).
func (c *compiler) embed(parent *cache.Relation, pa string, e *request.Embed, path []string) (string, string, error) {
	r, target, err := c.relationship(parent, e)
	if err != nil {
		return "", "", err
	}
	ea := c.nextAlias(target.Name)
	cols, _, err := c.selectList(target, ea, e.Select, path)
	if err != nil {
		return "", "", err
	}
	groupBy := c.groupByClause()
	where, err := c.whereClause(target, ea, e.Select, path)
	if err != nil {
		return "", "", err
	}
	order, err := c.orderClause(target, ea, e.Select, path)
	if err != nil {
		return "", "", err
	}
	offset, limit := c.rangeFor(path)
	tail := order
	if limit != nil {
		tail += " LIMIT " + itoa64(*limit)
	}
	if offset > 0 {
		tail += " OFFSET " + itoa64(offset)
	}
	inner := "SELECT " + cols + source(r, target, pa, ea, where) + groupBy + tail
	name := embedKey(e)
	if r.ToOne {
		return "(SELECT row_to_json(_pgrest_e) FROM (" + inner + ") _pgrest_e)", name, nil
	}
	return "(SELECT coalesce(json_agg(_pgrest_e), '[]') FROM (" + inner + ") _pgrest_e)", name, nil
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
	return "EXISTS (SELECT 1" + source(r, target, pa, ea, where) + ")", nil
}

// relatedOrder orders by a column of a to-one embed: order=rel(col).
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
		name := embedKey(e) // PostgREST names the embed as the request does
		return "", apierr.New(http.StatusBadRequest, "PGRST118",
			"A related order on '"+name+"' is not possible",
			"'"+rel.Name+"' and '"+name+"' do not form a many-to-one or one-to-one relationship", "")
	}
	ea := c.nextAlias(target.Name)
	return "(SELECT " + c.field(target, ea, &t.Field) + source(r, target, alias, ea, "") + ")", nil
}

// spread lifts the columns of ...rel(cols) into the parent: a value for a
// to-one embed, an array of values for a to-many one. Each column is a
// correlated subquery with the embed's own filters.
func (c *compiler) spread(parent *cache.Relation, pa string, e *request.Embed, path []string) ([]string, []string, error) {
	r, target, err := c.relationship(parent, e)
	if err != nil {
		return nil, nil, err
	}
	items := e.Select
	if len(items) == 0 {
		for _, col := range target.Columns {
			items = append(items, request.SelectItem{Field: request.Field{Name: col.Name}})
		}
	}
	var cols, names []string
	for i := range items {
		it := &items[i]
		if it.Embed != nil || it.Aggregate != "" || it.Field.Name == "*" {
			return nil, nil, apierr.New(http.StatusBadRequest, "PGRST100", "Spread embeds take plain columns in pgrest", "", "")
		}
		if !validCast(it.Cast) {
			return nil, nil, apierr.ParseError("\"failed to parse select parameter\"", "invalid cast type")
		}
		ea := c.nextAlias(target.Name)
		where, err := c.whereClause(target, ea, e.Select, path)
		if err != nil {
			return nil, nil, err
		}
		expr := c.castExpr(c.field(target, ea, &it.Field), it.Cast)
		from := source(r, target, pa, ea, where)
		var sub string
		if r.ToOne {
			sub = "(SELECT " + expr + from + ")"
		} else {
			order, err := c.orderClause(target, ea, e.Select, path)
			if err != nil {
				return nil, nil, err
			}
			sub = "(SELECT coalesce(json_agg(" + expr + order + "), '[]') " + from + ")"
		}
		name := outputName(it)
		cols = append(cols, sub+" AS "+ident(name))
		names = append(names, name)
	}
	return cols, names, nil
}

// andWhere adds a condition to a (possibly empty) WHERE clause.
func andWhere(where, cond string) string {
	if where == "" {
		return " WHERE " + cond
	}
	return where + " AND " + cond
}

// noRelHint is PostgREST's hint for PGRST200: a near name for the embedded
// resource among the origin's relationships (not the name itself). Where
// the origin has no relationships PostgREST looks for a near origin among
// its relationship map, which also holds keys to unexposed schemas that
// the snapshot leaves out; rather than guess, that case gives no hint.
func noRelHint(snap *cache.Snapshot, rel *cache.Relation, child string) string {
	var targets []string
	for _, r := range snap.RelationshipsFrom(rel.QI()) {
		targets = append(targets, r.ForeignTable.Name)
	}
	for _, m := range fuzzyMatches(targets, child, otherHintScore) {
		if m.score < 1 {
			return "Perhaps you meant '" + m.name + "' instead of '" + child + "'."
		}
	}
	return ""
}
