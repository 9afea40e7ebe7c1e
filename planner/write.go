package planner

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/pgrest/pgrest/apierr"
	"github.com/pgrest/pgrest/cache"
	"github.com/pgrest/pgrest/request"
)

// compileWrite plans POST (insert), PUT (upsert), PATCH (update) and
// DELETE. The statement is a data-modifying CTE named after the resource,
// so the returned rows go through the same select/embedding compiler as
// reads.
func compileWrite(req *request.Request, snap *cache.Snapshot, opts Options, vals *values) (*Plan, error) {
	rel := snap.Relation(req.Schema, req.Resource)
	if rel == nil {
		return nil, notFound(snap, req.Schema, req.Resource)
	}
	c := &compiler{req: req, snap: snap, opts: opts, vals: vals}
	w := &writer{c: c, rel: rel, target: ident(rel.Schema) + "." + ident(rel.Name), alias: req.Resource}
	w.key = snap.KeyColumns(rel)
	w.full, w.ret = returning(req, rel, w.key)
	var mutation string
	var err error
	switch req.Action {
	case request.ActCreate, request.ActUpsert:
		mutation, err = w.insert()
	case request.ActUpdate:
		mutation, err = w.update()
	case request.ActDelete:
		mutation, err = w.delete()
	default:
		return nil, apierr.NotImplemented("this kind of write")
	}
	if err != nil {
		return nil, err
	}

	media, err := negotiate(req, opts, c.offerFor(rel, nil))
	if err != nil {
		return nil, err
	}
	c.jsonOut = media.json()
	alias := w.alias
	cols, from := "1", ident(alias)
	body := "''::text AS body, NULL::bytea AS body_bytes"
	switch {
	case req.Prefs.Return == "representation":
		l, err := c.selectList(rel, alias, req.Select, nil, false)
		if err != nil {
			return nil, err
		}
		cols = l.selectSQL()
		// the representation comes in the requested order
		order, err := c.orderClause(rel, alias, req.Select, nil)
		if err != nil {
			return nil, err
		}
		if w.full {
			// Rows of the relation's own type, so computed columns (functions
			// of that type, overloads included) resolve as they do on reads.
			from = "unnest(ARRAY(SELECT _pgrest_m::" + w.target + " FROM " + ident(alias) + " _pgrest_m)) AS " + ident(alias)
		}
		from += l.joinSQL() + l.groupSQL() + order
		body = bodyColumns(media, l.names)
	case req.Action == request.ActCreate && req.Prefs.Return == "headers-only" && len(w.key) > 0:
		// The primary key of the one row inserted, for the Location header.
		var pk []string
		for _, k := range w.key {
			pk = append(pk, "json_build_array("+quoteLit(k)+", "+ident(alias)+"."+ident(k)+"::text)")
		}
		body = "(SELECT json_build_array(" + strings.Join(pk, ", ") + ")::text FROM " + ident(alias) + " WHERE (SELECT pg_catalog.count(*) FROM " + ident(alias) + ") = 1) AS body, NULL::bytea AS body_bytes"
	}
	total := "NULL::bigint"
	if w.inserted != "" {
		total = w.inserted
	}
	sql := "WITH " + ident(alias) + " AS (" + mutation + ") SELECT " + total + " AS total, pg_catalog.count(_pgrest_t) AS page_total, " +
		body + ", " + responseSettings + " FROM (SELECT " +
		cols + " FROM " + from + ") _pgrest_t"
	stream := media.ndjson && req.Prefs.Return == "representation"
	if stream {
		sql = streamStatement("WITH "+ident(alias)+" AS ("+mutation+") ", total, media, "SELECT "+cols+" FROM "+from)
	}
	sql += bindUnused(sql, vals.args)
	// A plan request explains the whole statement (run, with ANALYZE).
	return &Plan{SQL: sql, Args: vals.args, MediaType: media.contentType, Singular: media.singular, Inserted: w.inserted != "", Upsert: w.upsert,
		Explain: media.explain, Stream: stream && media.explain == "", BulkStage: w.stage, BulkCopy: w.copy, BulkUnit: w.unit}, nil
}

// bindUnused references the parameters the statement leaves out, values
// that a write ignores as PostgREST does (root filters on POST, filters of
// an embed the response does not show): PostgreSQL must still type them.
func bindUnused(sql string, args []any) string {
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
	for i, a := range args {
		if n := i + 1; !used[n] {
			typ := "text"
			if _, ok := a.([]string); ok {
				typ = "text[]"
			}
			refs = append(refs, "$"+strconv.Itoa(n)+"::"+typ+" IS NULL")
		}
	}
	if len(refs) == 0 {
		return ""
	}
	return " WHERE (" + strings.Join(refs, " OR ") + " OR true)"
}

// writer builds one data-modifying statement.
type writer struct {
	c             *compiler
	rel           *cache.Relation
	target, alias string
	key           []string // the primary key (a view's derived one)
	// full: the statement returns whole rows; else only ret (none: "1").
	full bool
	ret  []string
	// inserted, when set, is an expression counting the rows an upsert
	// inserted rather than updated (201 against 200).
	inserted string
	upsert   bool
	// stage, copy and unit load a bulk body (planner/bulk.go).
	stage, copy, unit string
}

// returning decides what the statement returns: only what the response
// reads, so that, as in PostgREST, return=minimal needs no SELECT
// privilege and a select= of granted columns is enough.
func returning(req *request.Request, rel *cache.Relation, key []string) (bool, []string) {
	switch {
	case req.Prefs.Return == "representation":
	case req.Action == request.ActCreate && req.Prefs.Return == "headers-only":
		return false, slices.Clone(key) // appended to: never share the snapshot's slice
	default:
		return false, nil
	}
	var cols []string
	plain := func(f request.Field) bool {
		if f.Name == "*" || rel.Column(f.Name) == nil {
			return false
		}
		cols = appendUnique(cols, f.Name)
		return true
	}
	if len(req.Select) == 0 {
		return true, nil
	}
	for _, it := range req.Select {
		if it.Embed != nil || it.Aggregate != "" || !plain(it.Field) {
			return true, nil
		}
	}
	for _, o := range req.Orders {
		for _, t := range o.Terms {
			if len(o.Path) == 0 && (t.Relation != "" || !plain(t.Field)) {
				return true, nil
			}
		}
	}
	return false, cols
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
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
func (w *writer) insert() (string, error) {
	req, rel, c := w.c.req, w.rel, w.c
	if req.Bulk != nil && req.Action == request.ActCreate {
		return w.bulkInsert()
	}
	if req.Action == request.ActUpsert {
		if err := checkPut(req, w.key); err != nil {
			return "", err
		}
	}
	p, err := payload(req, rel)
	if err != nil {
		return "", err
	}
	if req.Action == request.ActUpsert {
		if err := putMatchesURL(req, p.first); err != nil {
			return "", err
		}
		// PUT writes the row the URL names: the first of the payload.
		p = p.firstOnly()
	}
	c.vals.add(&req.Body, p.arg)
	body := p.rowsSQL(c.param(&req.Body))
	quoted := quoteAll(p.cols)
	conflict, keys := onConflict(req, w.key, quoted)
	w.upsert = keys != nil
	if req.Action == request.ActUpsert {
		// The URL's key filters guard the update (and bind their parameters).
		where, err := c.whereClause(rel, rel.Name, nil, nil)
		if err != nil {
			return "", err
		}
		conflict += where
	}
	if len(keys) > 0 && (req.Action == request.ActUpsert || req.Prefs.Resolution == "merge-duplicates") {
		w.countInserted(keys)
	}
	ret := w.returningClause(w.target)
	if len(p.cols) == 0 {
		return "INSERT INTO " + w.target + " SELECT FROM json_array_elements(" + body + ")" + conflict + ret, nil
	}
	head := "INSERT INTO " + w.target + " (" + strings.Join(quoted, ", ") + ") "
	if p.sparse() {
		return head + w.valuesWithDefaults(p, body) + conflict + ret, nil
	}
	exprs, recordset := strings.Join(quoted, ", "), "json_populate_recordset(NULL::"+w.target+", "+body+")"
	if e, defs, ok := c.bodyRepresentations(rel, p.cols); ok {
		exprs, recordset = e, "json_to_recordset("+body+") AS _pgrest_r("+defs+")"
	}
	return head + "SELECT " + exprs + " FROM " + recordset + conflict + ret, nil
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
func (w *writer) valuesWithDefaults(p *rowsPayload, body string) string {
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
func (w *writer) update() (string, error) {
	req, rel, c := w.c.req, w.rel, w.c
	p, err := payload(req, rel)
	if err != nil {
		return "", err
	}
	where, err := c.whereClause(rel, w.alias, nil, nil)
	if err != nil {
		return "", err
	}
	if len(p.cols) == 0 {
		sel := "1"
		if r := w.returningClause(ident(w.alias)); w.full || len(w.ret) > 0 {
			sel = strings.TrimPrefix(r, " RETURNING ")
		}
		// LIMIT 0 rather than WHERE false keeps the filters' parameters bound.
		return "SELECT " + sel + " FROM " + w.target + " AS " + ident(w.alias) + where + " LIMIT 0", nil
	}
	if where, err = c.limitedWhere(rel, w.target, w.alias, where); err != nil {
		return "", err
	}
	c.vals.add(&req.Body, p.arg)
	row := p.firstSQL(c.param(&req.Body))
	var set string
	if req.Prefs.Missing == "default" {
		sets := make([]string, len(p.cols))
		for i, col := range p.cols {
			e := "DEFAULT"
			if _, ok := p.first[col]; ok {
				e = w.columnFrom(col, row)
			}
			sets[i] = ident(col) + " = " + e
		}
		set = strings.Join(sets, ", ")
	} else {
		quoted := quoteAll(p.cols)
		exprs, record := strings.Join(quoted, ", "), "json_populate_record(NULL::"+w.target+", "+row+")"
		if e, defs, ok := c.bodyRepresentations(rel, p.cols); ok {
			exprs, record = e, "json_to_record("+row+") AS _pgrest_r("+defs+")"
		}
		set = "(" + strings.Join(quoted, ", ") + ") = (SELECT " + exprs + " FROM " + record + ")"
	}
	return "UPDATE " + w.target + " AS " + ident(w.alias) + " SET " + set + where + w.returningClause(ident(w.alias)), nil
}

func (w *writer) delete() (string, error) {
	where, err := w.c.whereClause(w.rel, w.alias, nil, nil)
	if err != nil {
		return "", err
	}
	if where, err = w.c.limitedWhere(w.rel, w.target, w.alias, where); err != nil {
		return "", err
	}
	return "DELETE FROM " + w.target + " AS " + ident(w.alias) + where + w.returningClause(ident(w.alias)), nil
}

func quoteAll(cols []string) []string {
	out := make([]string, len(cols))
	for i, col := range cols {
		out[i] = ident(col)
	}
	return out
}

// onConflict renders the ON CONFLICT clause of an upsert: PUT, or POST
// with Prefer: resolution; the target is on_conflict= or the primary key.
// Without either, as in PostgREST, the resolution is not applied.
func onConflict(req *request.Request, pk, cols []string) (string, []string) {
	res := req.Prefs.Resolution
	if req.Action == request.ActUpsert {
		res = "merge-duplicates"
	}
	keys := req.OnConflict
	if keys == nil {
		keys = pk
	}
	if (res != "merge-duplicates" && res != "ignore-duplicates") || len(keys) == 0 {
		return "", nil
	}
	target := " ON CONFLICT (" + strings.Join(quoteAll(keys), ", ") + ")"
	if res == "ignore-duplicates" || len(cols) == 0 {
		return target + " DO NOTHING", keys
	}
	set := make([]string, len(cols))
	for i, c := range cols {
		set[i] = c + " = EXCLUDED." + c
	}
	return target + " DO UPDATE SET " + strings.Join(set, ", "), keys
}

// checkPut enforces PUT's shape: eq filters on exactly the primary key
// columns (PGRST105), no limit or offset (PGRST114).
func checkPut(req *request.Request, pk []string) error {
	for _, r := range req.Ranges {
		if len(r.Path) == 0 && (r.Limit != nil || r.Offset != 0) {
			return apierr.New(http.StatusBadRequest, "PGRST114", "limit/offset querystring parameters are not allowed for PUT", "", "")
		}
	}
	seen := map[string]bool{}
	ok := len(pk) > 0 && len(req.Logic) == 0
	for _, f := range req.Filters {
		if len(f.Path) > 0 || len(f.Field.Path) > 0 || f.Op.Op != "eq" || f.Op.Negated || f.Op.Quant != "" || seen[f.Field.Name] {
			ok = false
		}
		seen[f.Field.Name] = true
	}
	for _, k := range pk {
		ok = ok && seen[k]
	}
	if !ok || len(seen) != len(pk) {
		return apierr.New(http.StatusMethodNotAllowed, "PGRST105", "Filters must include all and only primary key columns with 'eq' operators", "", "")
	}
	return nil
}

// putMatchesURL checks that the PUT payload's first row has the primary
// key the URL names (PGRST115).
func putMatchesURL(req *request.Request, first map[string]json.RawMessage) error {
	mismatch := apierr.New(http.StatusBadRequest, "PGRST115", "Payload values do not match URL in primary key column(s)", "", "")
	if first == nil {
		return mismatch
	}
	for _, f := range req.Filters {
		raw, ok := first[f.Field.Name]
		if !ok {
			return mismatch
		}
		var str string
		if json.Unmarshal(raw, &str) != nil {
			str = string(raw)
		}
		if str != f.Op.Value {
			return mismatch
		}
	}
	return nil
}

// limitedWhere applies order and limit to PATCH and DELETE: the rows
// changed are the first ones in that order, picked by ctid (tables only).
func (c *compiler) limitedWhere(rel *cache.Relation, target, alias, where string) (string, error) {
	offset, limit := c.rangeFor(nil)
	if limit == nil && offset == 0 {
		return where, nil
	}
	if rel.Kind != cache.KindTable {
		return "", apierr.New(http.StatusBadRequest, "PGRST100", "limit and offset on PATCH and DELETE need a table", "", "")
	}
	order, err := c.orderClause(rel, alias, nil, nil)
	if err != nil {
		return "", err
	}
	sub := "SELECT " + ident(alias) + ".ctid FROM " + target + " AS " + ident(alias) + where + order
	if limit != nil {
		sub += " LIMIT " + itoa64(*limit)
	}
	if offset > 0 {
		sub += " OFFSET " + itoa64(offset)
	}
	return " WHERE " + ident(alias) + ".ctid = ANY(ARRAY(" + sub + "))", nil
}

// rowsPayload is a write's body: the statement's json parameter (the
// body as sent, or CSV and forms re-encoded), what Go knows of its rows,
// and the columns to write.
type rowsPayload struct {
	arg    json.RawMessage
	object bool // arg is one object, not an array of them
	// onlyFirst: the statement reads only the first row (PUT).
	onlyFirst bool
	n         int                        // rows
	first     map[string]json.RawMessage // the first row; nil without rows
	cols      []string
	// present records, row by row, which of cols each row has; nil when
	// every row has them all.
	present []bool
}

// firstOnly keeps only the first row (PUT writes one).
func (p *rowsPayload) firstOnly() *rowsPayload {
	q := *p
	q.onlyFirst, q.n = true, min(p.n, 1)
	if q.present != nil {
		q.present = q.present[:q.n*len(q.cols)]
	}
	return &q
}

func (p *rowsPayload) has(row, col int) bool {
	return p.present == nil || p.present[row*len(p.cols)+col]
}

// sparse reports whether some row leaves out a column (missing=default).
func (p *rowsPayload) sparse() bool {
	return slices.Contains(p.present, false)
}

// firstSQL is the payload's first row as SQL, from its parameter param.
func (p *rowsPayload) firstSQL(param string) string {
	if p.object {
		return param + "::json"
	}
	return "(" + param + "::json->0)"
}

// rowsSQL is the payload's rows as a JSON array in SQL.
func (p *rowsPayload) rowsSQL(param string) string {
	if p.onlyFirst || p.object {
		return "json_build_array(" + p.firstSQL(param) + ")"
	}
	return param + "::json"
}

// payload reads the body. The columns are columns= when given, else the
// keys of the rows, which must all have the same keys (PGRST102); each
// must be a column of the relation (PGRST204).
func payload(req *request.Request, rel *cache.Relation) (*rowsPayload, error) {
	var cols, want []string
	for _, col := range req.Columns {
		cols = appendUnique(cols, col)
	}
	if req.Prefs.Missing == "default" {
		want = cols // which rows lack which columns matters only for defaults
	}
	p, err := decodeRows(req, req.Columns == nil, want)
	if err != nil {
		return nil, err
	}
	if cols == nil && p.first != nil {
		for k := range p.first {
			cols = append(cols, k)
		}
		sort.Strings(cols)
	}
	p.cols = cols
	// PostgREST resolves the columns as a set: the first missing one in
	// ascending order is reported.
	sorted := slices.Sorted(slices.Values(cols))
	for _, col := range sorted {
		if rel.Column(col) == nil {
			return nil, apierr.New(http.StatusBadRequest, "PGRST204", "Could not find the '"+col+"' column of '"+rel.Name+"' in the schema cache", "", "")
		}
	}
	return p, nil
}

// bodyRepresentations handles columns whose domain has a cast from json
// (domain representations): the body is read as a record of declared
// types, those columns as json passed through the cast's function. ok is
// false when no written column has such a cast.
func (c *compiler) bodyRepresentations(rel *cache.Relation, cols []string) (exprs, defs string, ok bool) {
	var es, ds []string
	for _, name := range cols {
		col := rel.Column(name)
		if col == nil {
			return "", "", false
		}
		e, typ := "_pgrest_r."+ident(name), col.Type
		if fn := c.representation(rel, &request.Field{Name: name}, func(r *cache.Representation) *cache.QI { return r.FromJSON }); fn != "" {
			e, typ, ok = fn+"("+e+")", "json", true
		}
		es, ds = append(es, e), append(ds, ident(name)+" "+typ)
	}
	return strings.Join(es, ", "), strings.Join(ds, ", "), ok
}

// decodeRows reads a write's body: JSON (an object or an array of
// objects), CSV with a header line ("NULL" is null), or a urlencoded form
// (one row). uniform asks that every row has the same keys (no columns=
// to pick them); want are the columns whose presence each row records.
func decodeRows(req *request.Request, uniform bool, want []string) (*rowsPayload, error) {
	ct := req.ContentType.Type + "/" + req.ContentType.Subtype
	switch ct {
	case "text/csv":
		recs, err := csv.NewReader(bytes.NewReader(req.Body)).ReadAll()
		if err != nil || len(recs) == 0 {
			msg := "the CSV body needs a header line"
			if err != nil {
				msg = err.Error()
			}
			return nil, apierr.InvalidBody(msg)
		}
		rows := []map[string]json.RawMessage{}
		for _, rec := range recs[1:] {
			row := map[string]json.RawMessage{}
			for i, name := range recs[0] {
				if rec[i] == "NULL" {
					row[name] = json.RawMessage("null")
				} else {
					row[name], _ = json.Marshal(rec[i])
				}
			}
			rows = append(rows, row)
		}
		return fromMaps(rows, want), nil
	case "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(req.Body))
		if err != nil {
			return nil, apierr.InvalidBody(err.Error())
		}
		row := map[string]json.RawMessage{}
		for k, vs := range form {
			row[k], _ = json.Marshal(vs[len(vs)-1])
		}
		return fromMaps([]map[string]json.RawMessage{row}, want), nil
	case "/", "application/json": // JSON when no Content-Type is given
		return scanJSONRows(req.Body, uniform, want)
	}
	return nil, apierr.New(http.StatusBadRequest, "PGRST102", "Content-Type not acceptable: "+ct, "", "")
}

// fromMaps makes the payload of rows decoded in Go (CSV, forms).
func fromMaps(rows []map[string]json.RawMessage, want []string) *rowsPayload {
	b, _ := json.Marshal(rows)
	p := &rowsPayload{arg: b, n: len(rows)}
	if len(rows) > 0 {
		p.first = rows[0]
	}
	if want != nil {
		p.present = make([]bool, 0, len(rows)*len(want))
		for _, r := range rows {
			for _, col := range want {
				_, ok := r[col]
				p.present = append(p.present, ok)
			}
		}
	}
	return p
}
