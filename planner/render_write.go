package planner

import (
	"slices"
	"strconv"
	"strings"

	"github.com/pgrest/pgrest/cache"
	"github.com/pgrest/pgrest/request"
)

// write renders a write plan.
func (c *renderer) write(m *mutatePlan) *Plan {
	w := &writer{c: c, m: m, rel: m.rel, target: ident(m.rel.Schema) + "." + ident(m.rel.Name), alias: m.alias, full: m.full, ret: slices.Clone(m.ret)}
	var mutation string
	switch m.action {
	case request.ActCreate, request.ActUpsert:
		mutation = w.insert()
	case request.ActUpdate:
		mutation = w.update()
	default:
		mutation = w.delete()
	}
	media := m.media
	c.jsonOut = media.json()
	alias := w.alias
	cols, from := "1", ident(alias)
	body := "''::text AS body, NULL::bytea AS body_bytes"
	switch {
	case m.representation:
		l := c.selectList(m.root, alias, false)
		cols = l.selectSQL()
		// the representation comes in the requested order
		order := c.orderClause(m.root, alias)
		if w.full {
			// Rows of the relation's own type, so computed columns (functions
			// of that type, overloads included) resolve as they do on reads.
			from = "unnest(ARRAY(SELECT _pgrest_m::" + w.target + " FROM " + ident(alias) + " _pgrest_m)) AS " + ident(alias)
		}
		from += l.joinSQL() + l.groupSQL() + order
		body = bodyColumns(media, l.names)
	case m.location:
		// The primary key of the one row inserted, for the Location header.
		var pk []string
		for _, k := range m.key {
			pk = append(pk, "json_build_array("+quoteLit(k)+", "+ident(alias)+"."+ident(k)+"::text)")
		}
		body = "(SELECT json_build_array(" + strings.Join(pk, ", ") + ")::text FROM " + ident(alias) + " WHERE (SELECT pg_catalog.count(*) FROM " + ident(alias) + ") = 1) AS body, NULL::bytea AS body_bytes"
	}
	total := "NULL::bigint"
	if w.inserted != "" {
		total = w.inserted
	}
	sql := "WITH " + ident(alias) + " AS (" + mutation + ") SELECT " + total + " AS total, pg_catalog.count(*) AS page_total, " +
		body + ", " + responseSettings + " FROM (SELECT " +
		cols + " FROM " + from + ") _postgrest_t"
	stream := media.ndjson && m.representation
	if stream {
		sql = streamStatement("WITH "+ident(alias)+" AS ("+mutation+") ", total, media, "SELECT "+cols+" FROM "+from)
	}
	sql += bindUnused(sql, m.paramTypes)
	// A plan request explains the whole statement (run, with ANALYZE).
	return &Plan{SQL: sql, MediaType: media.contentType, Singular: media.singular, Inserted: w.inserted != "", Upsert: m.keys != nil,
		Explain: media.explain, Stream: stream && media.explain == "", BulkStage: w.stage, BulkCopy: w.copy, BulkUnit: w.unit}
}

// bindUnused references the parameters the statement leaves out, values
// that a write ignores as PostgREST does (root filters on POST, filters of
// an embed the response does not show): PostgreSQL must still type them.
// types are the parameters' types, in order.
func bindUnused(sql string, types []string) string {
	used := map[int]bool{}
	for i := 0; i < len(sql); i++ {
		if sql[i] != '$' {
			continue
		}
		j := i + 1
		for j < len(sql) && sql[j] >= '0' && sql[j] <= '9' {
			j++
		}
		if n, err := strconv.Atoi(sql[i+1 : j]); err == nil {
			used[n] = true
		}
	}
	var refs []string
	for i, typ := range types {
		if n := i + 1; !used[n] {
			refs = append(refs, "$"+strconv.Itoa(n)+"::"+typ+" IS NULL")
		}
	}
	if len(refs) == 0 {
		return ""
	}
	return " WHERE (" + strings.Join(refs, " OR ") + " OR true)"
}

// writer renders one data-modifying statement.
type writer struct {
	c             *renderer
	m             *mutatePlan
	rel           *cache.Relation
	target, alias string
	// full: the statement returns whole rows; else only ret (none: "1").
	full bool
	ret  []string
	// inserted, when set, is an expression counting the rows an upsert
	// inserted rather than updated (201 against 200).
	inserted string
	// stage, copy and unit load a bulk body (planner/bulk.go).
	stage, copy, unit string
}

// returningClause renders RETURNING for rows qualified by q.
func (w *writer) returningClause(q string) string {
	if w.full {
		return " RETURNING " + q + ".*"
	}
	if len(w.ret) == 0 {
		return " RETURNING 1"
	}
	cols := make([]string, len(w.ret))
	for i, col := range w.ret {
		cols[i] = q + "." + ident(col)
	}
	return " RETURNING " + strings.Join(cols, ", ")
}

// insert renders INSERT for POST and PUT, with ON CONFLICT for upserts.
func (w *writer) insert() string {
	m, c := w.m, w.c
	if m.bulk != nil {
		return w.bulkInsert()
	}
	p := &m.payload
	body := p.rowsSQL()
	quoted := quoteAll(p.cols)
	conflict := onConflict(m.conflict, m.keys, quoted)
	if m.action == request.ActUpsert {
		// The URL's key filters guard the update (and bind their parameters).
		conflict += c.whereClause(m.root, w.rel.Name, true)
	}
	if len(m.keys) > 0 && m.conflict == "merge-duplicates" {
		w.countInserted(m.keys)
	}
	ret := w.returningClause(w.target)
	if len(p.cols) == 0 {
		return "INSERT INTO " + w.target + " SELECT FROM json_array_elements(" + body + ")" + conflict + ret
	}
	head := "INSERT INTO " + w.target + " (" + strings.Join(quoted, ", ") + ") "
	if p.sparse() {
		return head + w.valuesWithDefaults(body) + conflict + ret
	}
	exprs, recordset := strings.Join(quoted, ", "), "json_populate_recordset(NULL::"+w.target+", "+body+")"
	if e, defs, ok := c.bodyRepresentations(w.rel, p.cols); ok {
		exprs, recordset = e, "json_to_recordset("+body+") AS _pgrest_r("+defs+")"
	}
	return head + "SELECT " + exprs + " FROM " + recordset + conflict + ret
}

// countInserted makes the statement also return the conflict key and
// counts the returned rows whose key did not exist before: the outer
// query still sees the table as it was before the statement.
func (w *writer) countInserted(keys []string) {
	var cond []string
	for _, k := range keys {
		if !w.full {
			w.ret = appendUnique(w.ret, k)
		}
		cond = append(cond, "_pgrest_o."+ident(k)+" = _pgrest_n."+ident(k))
	}
	w.inserted = "(SELECT pg_catalog.count(*) FROM " + ident(w.alias) + " _pgrest_n WHERE NOT EXISTS (SELECT 1 FROM " + w.target +
		" _pgrest_o WHERE " + strings.Join(cond, " AND ") + "))"
}

// valuesWithDefaults renders one VALUES row per payload row, DEFAULT for
// every column the row leaves out (Prefer: missing=default), so column,
// identity and domain defaults all apply as PostgreSQL defines them.
func (w *writer) valuesWithDefaults(body string) string {
	p := &w.m.payload
	rows := make([]string, p.n)
	for i := range rows {
		exprs := make([]string, len(p.cols))
		for j, col := range p.cols {
			if !p.has(i, j) {
				exprs[j] = "DEFAULT"
				continue
			}
			exprs[j] = w.columnFrom(col, body+"->"+strconv.Itoa(i))
		}
		rows[i] = "(" + strings.Join(exprs, ", ") + ")"
	}
	if len(rows) == 0 {
		return "SELECT " + strings.Repeat("NULL, ", len(p.cols)-1) + "NULL WHERE false"
	}
	return "VALUES " + strings.Join(rows, ", ")
}

// columnFrom reads one column from a JSON object as the column's type
// (through its domain representation when it has one).
func (w *writer) columnFrom(col, obj string) string {
	if e, defs, ok := w.c.bodyRepresentations(w.rel, []string{col}); ok {
		return "(SELECT " + e + " FROM json_to_record(" + obj + ") AS _pgrest_r(" + defs + "))"
	}
	return "(json_populate_record(NULL::" + w.target + ", " + obj + "))." + ident(col)
}

// update renders UPDATE for PATCH from the payload's first row. A payload
// without columns updates nothing and returns no rows, as PostgREST.
func (w *writer) update() string {
	m, c := w.m, w.c
	p := &m.payload
	where := c.whereClause(m.root, w.alias, true)
	if len(p.cols) == 0 {
		sel := "1"
		if r := w.returningClause(ident(w.alias)); w.full || len(w.ret) > 0 {
			sel = strings.TrimPrefix(r, " RETURNING ")
		}
		// LIMIT 0 rather than WHERE false keeps the filters' parameters bound.
		return "SELECT " + sel + " FROM " + w.target + " AS " + ident(w.alias) + where + " LIMIT 0"
	}
	where = w.limitedWhere(where)
	row := p.firstSQL()
	var set string
	if m.missingDefault {
		sets := make([]string, len(p.cols))
		for i, col := range p.cols {
			e := "DEFAULT"
			if p.inFirst[i] {
				e = w.columnFrom(col, row)
			}
			sets[i] = ident(col) + " = " + e
		}
		set = strings.Join(sets, ", ")
	} else {
		quoted := quoteAll(p.cols)
		exprs, record := strings.Join(quoted, ", "), "json_populate_record(NULL::"+w.target+", "+row+")"
		if e, defs, ok := c.bodyRepresentations(w.rel, p.cols); ok {
			exprs, record = e, "json_to_record("+row+") AS _pgrest_r("+defs+")"
		}
		set = "(" + strings.Join(quoted, ", ") + ") = (SELECT " + exprs + " FROM " + record + ")"
	}
	return "UPDATE " + w.target + " AS " + ident(w.alias) + " SET " + set + where + w.returningClause(ident(w.alias))
}

func (w *writer) delete() string {
	where := w.limitedWhere(w.c.whereClause(w.m.root, w.alias, true))
	return "DELETE FROM " + w.target + " AS " + ident(w.alias) + where + w.returningClause(ident(w.alias))
}

func quoteAll(cols []string) []string {
	out := make([]string, len(cols))
	for i, col := range cols {
		out[i] = ident(col)
	}
	return out
}

// onConflict renders the ON CONFLICT clause of an upsert.
func onConflict(res string, keys, cols []string) string {
	if res == "" {
		return ""
	}
	target := " ON CONFLICT (" + strings.Join(quoteAll(keys), ", ") + ")"
	if res == "ignore-duplicates" || len(cols) == 0 {
		return target + " DO NOTHING"
	}
	set := make([]string, len(cols))
	for i, c := range cols {
		set[i] = c + " = EXCLUDED." + c
	}
	return target + " DO UPDATE SET " + strings.Join(set, ", ")
}

// limitedWhere applies order and limit to PATCH and DELETE: the rows
// changed are the first ones in that order, picked by ctid (tables only,
// which the tree checked).
func (w *writer) limitedWhere(where string) string {
	n := w.m.root
	if n.limit == nil && n.offset == 0 {
		return where
	}
	alias := w.alias
	sub := "SELECT " + ident(alias) + ".ctid FROM " + w.target + " AS " + ident(alias) + where + w.c.orderClause(n, alias)
	if n.limit != nil {
		sub += " LIMIT " + itoa64(*n.limit)
	}
	if n.offset > 0 {
		sub += " OFFSET " + itoa64(n.offset)
	}
	return " WHERE " + ident(alias) + ".ctid = ANY(ARRAY(" + sub + "))"
}

// bodyRepresentations handles columns whose domain has a cast from json
// (domain representations): the body is read as a record of declared
// types, those columns as json passed through the cast's function. ok is
// false when no written column has such a cast.
func (c *renderer) bodyRepresentations(rel *cache.Relation, cols []string) (exprs, defs string, ok bool) {
	var es, ds []string
	for _, name := range cols {
		col := rel.Column(name)
		if col == nil {
			return "", "", false
		}
		e, typ := "_pgrest_r."+ident(name), col.Type
		if fn := c.representation(rel, &fieldRef{name: name}, func(r *cache.Representation) *cache.QI { return r.FromJSON }); fn != "" {
			e, typ, ok = fn+"("+e+")", "json", true
		}
		es, ds = append(es, e), append(ds, ident(name)+" "+typ)
	}
	return strings.Join(es, ", "), strings.Join(ds, ", "), ok
}

func (s *payloadShape) firstSQL() string {
	if s.object {
		return param(s.param) + "::json"
	}
	return "(" + param(s.param) + "::json->0)"
}

func (s *payloadShape) rowsSQL() string {
	if s.onlyFirst || s.object {
		return "json_build_array(" + s.firstSQL() + ")"
	}
	return param(s.param) + "::json"
}
