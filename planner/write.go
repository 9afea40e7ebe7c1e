package planner

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/pgrest/pgrest/cache"
	"github.com/pgrest/pgrest/server/apierr"
	"github.com/pgrest/pgrest/server/request"
)

// compileWrite plans POST (insert), PATCH (update) and DELETE. The
// statement is a data-modifying CTE named after the resource, so the
// returned rows go through the same select/embedding compiler as reads.
func compileWrite(req *request.Request, snap *cache.Snapshot, opts Options, vals *values) (*Plan, error) {
	rel := snap.Relation(req.Schema, req.Resource)
	if rel == nil {
		return nil, notFound(snap, req.Schema, req.Resource)
	}
	c := &compiler{req: req, snap: snap, opts: opts, vals: vals}
	target := ident(rel.Schema) + "." + ident(rel.Name)
	alias := req.Resource

	var mutation string
	switch req.Action {
	case request.ActCreate, request.ActUpdate, request.ActUpsert:
		if req.Action == request.ActUpsert {
			if err := checkPut(req, rel); err != nil {
				return nil, err
			}
		}
		rows, cols, err := payload(req, req.Action == request.ActCreate)
		if err != nil {
			return nil, err
		}
		if req.Action == request.ActUpsert {
			if err := putMatchesURL(req, rel); err != nil {
				return nil, err
			}
		}
		vals.add(&req.Body, rows)
		body := c.param(&req.Body) + "::json"
		quoted := make([]string, len(cols))
		for i, col := range cols {
			quoted[i] = ident(col)
		}
		list := strings.Join(quoted, ", ")
		exprs, recordset, record := list, "json_populate_recordset(NULL::"+target+", "+body+")", "json_populate_record(NULL::"+target+", "+body+"->0)"
		if e, defs, ok := c.bodyRepresentations(rel, cols); ok {
			exprs, recordset, record = e, "json_to_recordset("+body+") AS _pgrest_r("+defs+")", "json_to_record("+body+"->0) AS _pgrest_r("+defs+")"
		} else if req.Prefs.Missing == "default" && req.Action == request.ActCreate {
			exprs, recordset = missingDefaults(rel, target, body, cols)
		}
		if req.Action != request.ActUpdate {
			conflict, err := onConflict(req, rel, quoted)
			if err != nil {
				return nil, err
			}
			if req.Action == request.ActUpsert {
				// The URL's key filters guard the update (and bind their parameters).
				where, err := c.whereClause(rel, rel.Name, nil, nil)
				if err != nil {
					return nil, err
				}
				conflict += where
			}
			if len(cols) == 0 {
				mutation = "INSERT INTO " + target + " SELECT FROM json_array_elements(" + body + ")" + conflict + " RETURNING " + target + ".*"
			} else {
				mutation = "INSERT INTO " + target + " (" + list + ") SELECT " + exprs + " FROM " + recordset + conflict + " RETURNING " + target + ".*"
			}
		} else {
			if len(cols) == 0 {
				return nil, apierr.InvalidBody("Empty or invalid json: a PATCH body needs at least one column")
			}
			where, err := c.whereClause(rel, alias, nil, nil)
			if err != nil {
				return nil, err
			}
			where, err = c.limitedWhere(rel, target, alias, where)
			if err != nil {
				return nil, err
			}
			mutation = "UPDATE " + target + " AS " + ident(alias) + " SET (" + list + ") = (SELECT " + exprs + " FROM " + record + ")" + where + " RETURNING " + ident(alias) + ".*"
		}
	case request.ActDelete:
		where, err := c.whereClause(rel, alias, nil, nil)
		if err != nil {
			return nil, err
		}
		where, err = c.limitedWhere(rel, target, alias, where)
		if err != nil {
			return nil, err
		}
		mutation = "DELETE FROM " + target + " AS " + ident(alias) + where + " RETURNING " + ident(alias) + ".*"
	default:
		return nil, apierr.New(http.StatusNotImplemented, "PGREST501", "This kind of request is not supported by pgrest yet", "", "")
	}

	media, err := negotiate(req, opts, c.offerFor(rel, nil))
	if err != nil {
		return nil, err
	}
	c.jsonOut = media.json()
	cols, names, err := c.selectList(rel, alias, req.Select, nil)
	if err != nil {
		return nil, err
	}
	body := "''::text AS body, NULL::bytea AS body_bytes"
	switch {
	case req.Prefs.Return == "representation":
		body = bodyColumns(media, names)
	case req.Action == request.ActCreate && req.Prefs.Return == "headers-only" && len(rel.PrimaryKey) > 0:
		// The primary key of the first row, for the Location header.
		var pk []string
		for _, k := range rel.PrimaryKey {
			pk = append(pk, "json_build_array("+quoteLit(k)+", "+ident(alias)+"."+ident(k)+"::text)")
		}
		body = "(SELECT json_build_array(" + strings.Join(pk, ", ") + ")::text FROM " + ident(alias) + " LIMIT 1) AS body, NULL::bytea AS body_bytes"
		cols, names = "1", nil
	}
	// The rows read back keep the request's order, as PostgREST's read plan does.
	order, err := c.orderClause(rel, alias, req.Select, nil)
	if err != nil {
		return nil, err
	}
	sql := "WITH " + ident(alias) + " AS (" + mutation + ") SELECT NULL::bigint AS total, pg_catalog.count(_pgrest_t) AS page_total, " +
		body + ", " + responseSettings + " FROM (SELECT " +
		cols + " FROM " + ident(alias) + order + ") _pgrest_t"
	return &Plan{SQL: sql, Args: vals.args, MediaType: media.contentType, Singular: media.singular}, nil
}

// onConflict renders the ON CONFLICT clause of an upsert: PUT, or POST
// with Prefer: resolution; the target is on_conflict= or the primary key.
func onConflict(req *request.Request, rel *cache.Relation, cols []string) (string, error) {
	res := req.Prefs.Resolution
	if req.Action == request.ActUpsert {
		res = "merge-duplicates"
	}
	if res != "merge-duplicates" && res != "ignore-duplicates" {
		return "", nil
	}
	keys := req.OnConflict
	if keys == nil {
		keys = rel.PrimaryKey
	}
	var target []string
	for _, k := range keys {
		target = append(target, ident(k))
	}
	if res == "ignore-duplicates" || len(cols) == 0 {
		if len(target) == 0 {
			return " ON CONFLICT DO NOTHING", nil
		}
		return " ON CONFLICT (" + strings.Join(target, ", ") + ") DO NOTHING", nil
	}
	if len(target) == 0 {
		return "", apierr.New(http.StatusBadRequest, "PGRST100", "An upsert needs a primary key or on_conflict", "", "Add on_conflict=<unique columns> to the URL.")
	}
	var set []string
	for _, c := range cols {
		set = append(set, c+" = EXCLUDED."+c)
	}
	return " ON CONFLICT (" + strings.Join(target, ", ") + ") DO UPDATE SET " + strings.Join(set, ", "), nil
}

// checkPut enforces PUT's shape: eq filters on exactly the primary key
// columns (PGRST105), no limit or offset (PGRST114).
func checkPut(req *request.Request, rel *cache.Relation) error {
	for _, r := range req.Ranges {
		if len(r.Path) == 0 && (r.Limit != nil || r.Offset != 0) {
			return apierr.New(http.StatusBadRequest, "PGRST114", "limit/offset querystring parameters are not allowed for PUT", "", "")
		}
	}
	seen := map[string]bool{}
	ok := len(rel.PrimaryKey) > 0 && len(req.Logic) == 0
	for _, f := range req.Filters {
		if len(f.Path) > 0 || len(f.Field.Path) > 0 || f.Op.Op != "eq" || f.Op.Negated || f.Op.Quant != "" || seen[f.Field.Name] {
			ok = false
		}
		seen[f.Field.Name] = true
	}
	for _, k := range rel.PrimaryKey {
		ok = ok && seen[k]
	}
	if !ok || len(seen) != len(rel.PrimaryKey) {
		return apierr.New(http.StatusMethodNotAllowed, "PGRST105", "Filters must include all and only primary key columns with 'eq' operators", "", "")
	}
	return nil
}

// putMatchesURL checks that a PUT body is one row whose primary key is the
// one the URL names (PGRST115).
func putMatchesURL(req *request.Request, rel *cache.Relation) error {
	var row map[string]json.RawMessage
	if err := json.Unmarshal(bytes.TrimSpace(req.Body), &row); err != nil {
		var rows []map[string]json.RawMessage
		if json.Unmarshal(bytes.TrimSpace(req.Body), &rows) != nil || len(rows) != 1 {
			return apierr.InvalidBody("PUT takes a single JSON object")
		}
		row = rows[0]
	}
	mismatch := apierr.New(http.StatusBadRequest, "PGRST115", "Payload values do not match URL in primary key column(s)", "", "")
	for _, f := range req.Filters {
		raw, ok := row[f.Field.Name]
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

// payload validates the JSON body and returns it as an array plus the
// columns to write: columns= when given, else the keys of the objects,
// which must all have the same keys (PGRST102 otherwise).
func payload(req *request.Request, many bool) (string, []string, error) {
	rows, err := decodeRows(req, many)
	if err != nil {
		return "", nil, err
	}
	cols := req.Columns
	if cols == nil {
		var first []string
		for i, r := range rows {
			keys := make([]string, 0, len(r))
			for k := range r {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			if i == 0 {
				first = keys
			} else if strings.Join(keys, "\x00") != strings.Join(first, "\x00") {
				return "", nil, apierr.New(http.StatusBadRequest, "PGRST102", "All object keys must match", "", "")
			}
		}
		cols = first
	}
	b, _ := json.Marshal(rows)
	return string(b), cols, nil
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
			return "", "", false // PostgreSQL reports the unknown column
		}
		e, typ := "_pgrest_r."+ident(name), col.Type
		if fn := c.representation(rel, &request.Field{Name: name}, func(r *cache.Representation) *cache.QI { return r.FromJSON }); fn != "" {
			e, typ, ok = fn+"("+e+")", "json", true
		}
		es, ds = append(es, e), append(ds, ident(name)+" "+typ)
	}
	return strings.Join(es, ", "), strings.Join(ds, ", "), ok
}

// decodeRows reads a write's body as rows: JSON (an object, or an array of
// them when many), CSV with a header line ("NULL" is null), or a
// urlencoded form (one row). Every value becomes JSON for the statement.
func decodeRows(req *request.Request, many bool) ([]map[string]json.RawMessage, error) {
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
		var rows []map[string]json.RawMessage
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
		if !many && len(rows) != 1 {
			return nil, apierr.InvalidBody("expected one CSV row")
		}
		return rows, nil
	case "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(req.Body))
		if err != nil {
			return nil, apierr.InvalidBody(err.Error())
		}
		row := map[string]json.RawMessage{}
		for k, vs := range form {
			row[k], _ = json.Marshal(vs[len(vs)-1])
		}
		return []map[string]json.RawMessage{row}, nil
	}
	body := bytes.TrimSpace(req.Body)
	if len(body) == 0 {
		body = []byte("{}")
	}
	var rows []map[string]json.RawMessage
	if body[0] == '[' && many {
		if err := json.Unmarshal(body, &rows); err != nil {
			return nil, apierr.InvalidBody(err.Error())
		}
		return rows, nil
	}
	var one map[string]json.RawMessage
	if err := json.Unmarshal(body, &one); err != nil {
		return nil, apierr.InvalidBody(err.Error())
	}
	return []map[string]json.RawMessage{one}, nil
}

// missingDefaults reads each row through json_array_elements so that a
// key absent from a row takes the column's default (Prefer:
// missing=default) while an explicit null stays null.
func missingDefaults(rel *cache.Relation, target, body string, cols []string) (exprs, from string) {
	var es []string
	for _, name := range cols {
		def := "NULL"
		if col := rel.Column(name); col != nil && col.Default != nil {
			def = *col.Default // an expression from the catalog, not from the client
		}
		es = append(es, "CASE WHEN _pgrest_e::jsonb ? "+quoteLit(name)+" THEN _pgrest_r."+ident(name)+" ELSE "+def+" END")
	}
	return strings.Join(es, ", "), "json_array_elements(" + body + ") AS _pgrest_e, LATERAL json_populate_record(NULL::" + target + ", _pgrest_e) AS _pgrest_r"
}
