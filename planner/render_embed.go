package planner

import (
	"strings"

	"github.com/pgrest/pgrest/cache"
)

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
func subquery(n *readNode, pa, ea string, l *level, where string) string {
	from, cond := source(n.relationship, n.rel, pa, ea)
	return "SELECT " + l.selectSQL() + from + l.joinSQL() + andWhere(where, cond) + l.groupSQL()
}

// tail is the ORDER BY, LIMIT and OFFSET of an embedded level.
func (c *renderer) tail(n *readNode, ea string) string {
	tail := c.orderClause(n, ea)
	limit := n.limit
	if m := c.opts.MaxRows; m != nil && !c.mutation && (limit == nil || *limit > *m) {
		limit = m // max-rows caps every level of a read
	}
	if limit != nil {
		tail += " LIMIT " + itoa64(*limit)
	}
	if n.offset > 0 {
		tail += " OFFSET " + itoa64(n.offset)
	}
	return tail
}

// embed renders an embedded level as a correlated subquery returning an
// object (to-one) or an array (to-many), as jsonb like PostgREST's (it
// shows in the text of custom media rows, and groups).
func (c *renderer) embed(pa string, n *readNode) string {
	ea := c.nextAlias(n.rel.Name)
	l := c.selectList(n, ea, false)
	where := c.whereClause(n, ea, false)
	inner := subquery(n, pa, ea, l, where) + c.tail(n, ea)
	if n.relationship.ToOne {
		return "(SELECT row_to_json(_pgrest_e)::jsonb FROM (" + inner + ") _pgrest_e)"
	}
	return "(SELECT coalesce(json_agg(_pgrest_e), '[]')::jsonb FROM (" + inner + ") _pgrest_e)"
}

// existsEmbed is the condition "the embed has a matching row", with the
// embed's own filters.
func (c *renderer) existsEmbed(pa string, n *readNode) string {
	ea := c.nextAlias(n.rel.Name)
	where := c.whereClause(n, ea, false)
	from, cond := source(n.relationship, n.rel, pa, ea)
	return "EXISTS (SELECT 1" + from + andWhere(where, cond) + ")"
}

// relatedOrder orders by a column of a to-one embed: order=rel(col). A
// spread's columns are read from its lateral join.
func (c *renderer) relatedOrder(alias string, t *orderNode) string {
	n := t.related
	if sa, ok := c.spreadAlias[n]; ok {
		return c.field(nil, sa, &t.field)
	}
	ea := c.nextAlias(n.rel.Name)
	from, cond := source(n.relationship, n.rel, alias, ea)
	return "(SELECT " + c.field(n.rel, ea, &t.field) + from + andWhere("", cond) + ")"
}

// spread lifts the columns of ...rel(...) into the level l from a lateral
// join: the row of a to-one embed, or for a to-many one an array per
// column. Aggregates in a to-one spread apply at the first level that is
// not itself spread (grouped by the other columns there).
func (c *renderer) spread(l *level, pa string, n *readNode, hoisting bool) {
	if n.hasSelect && len(n.selects) == 0 {
		return // ...rel() only filters
	}
	toOne := n.relationship.ToOne
	ea, sa := c.nextAlias(n.rel.Name), c.nextAlias(n.rel.Name)
	if c.spreadAlias == nil {
		c.spreadAlias = map[*readNode]string{}
	}
	c.spreadAlias[n] = sa
	inner := c.selectList(n, ea, toOne)
	if len(inner.names) == 0 {
		return
	}
	sub := subquery(n, pa, ea, inner, c.whereClause(n, ea, false))
	if !toOne {
		var aggs []string
		for _, name := range inner.names {
			aggs = append(aggs, "json_agg(_pgrest_s."+ident(name)+") AS "+ident(name))
		}
		l.joins = append(l.joins, "LEFT JOIN LATERAL (SELECT "+strings.Join(aggs, ", ")+" FROM ("+sub+c.tail(n, ea)+") _pgrest_s) AS "+ident(sa)+" ON TRUE")
		for _, name := range inner.names {
			l.add("coalesce("+ident(sa)+"."+ident(name)+", '[]')", name, false)
		}
		return
	}
	l.joins = append(l.joins, "LEFT JOIN LATERAL ("+sub+") AS "+ident(sa)+" ON TRUE")
	for _, name := range inner.names {
		ref := ident(sa) + "." + ident(name)
		h, ok := inner.hoisted[name]
		switch {
		case ok && hoisting:
			if l.hoisted == nil {
				l.hoisted = map[string]hoist{}
			}
			l.hoisted[name] = h
			l.add(ref, name, false)
		case ok:
			l.agg = true
			out := h.alias
			if out == "" {
				out = h.fn
			}
			l.add(castExpr(h.fn+"("+ref+")", h.cast), out, false)
		default:
			l.add(ref, name, true)
		}
	}
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
