package planner

import (
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

// relationship resolves an embed from rel (PGRST200/PGRST201) the way
// PostgREST's findRel does: the target names a table or view, a
// constraint or a single foreign key column (those two only towards
// tables), or a computed relationship's function; a hint narrows a
// table target down by constraint, column on either side, or junction.
func (c *builder) relationship(rel *cache.Relation, e *request.Embed) (*cache.Relationship, *cache.Relation, error) {
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
func (c *builder) visibleRelationships(qi cache.QI) []*cache.Relationship {
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

func (c *builder) isView(qi cache.QI) bool {
	r := c.snap.Relations[qi]
	return r != nil && (r.Kind == cache.KindView || r.Kind == cache.KindMatView)
}

// relMatches is findRel's test of one relationship against target!hint.
func (c *builder) relMatches(r *cache.Relationship, target, hint string) bool {
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

func (c *builder) noRelationship(rel *cache.Relation, e *request.Embed) error {
	return apierr.NotFoundRelationship(rel.Name, e.Name, e.Hint, rel.Schema, c.noRelationshipHint(rel, e.Name))
}

// noRelationshipHint suggests the nearest foreign table of the parent's
// relationships when the child is none of them, as PostgREST's fuzzy set
// ranks them (at its default 0.33, lower than table names' bar).
func (c *builder) noRelationshipHint(rel *cache.Relation, child string) string {
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
	return apierr.AmbiguousRelationship(rel.Name, e.Name, details, hints)
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

// legacyWarning is PostgREST's Warning text for aliased embeds named by
// their relation, one "`name` to `alias`" per embed in select order; ""
// when there are none.
func (c *builder) legacyWarning(items []request.SelectItem) string {
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
	alias := ""
	if aliased != nil {
		alias = aliased.Alias
	}
	return apierr.NotEmbedded(k, alias)
}
