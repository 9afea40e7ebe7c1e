package planner

import (
	"bytes"
	"encoding/json"
	"net/http"
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
	case request.ActCreate, request.ActUpdate:
		rows, cols, err := payload(req, req.Action == request.ActCreate)
		if err != nil {
			return nil, err
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
		}
		if req.Action == request.ActCreate {
			if len(cols) == 0 {
				mutation = "INSERT INTO " + target + " SELECT FROM json_array_elements(" + body + ") RETURNING " + target + ".*"
			} else {
				mutation = "INSERT INTO " + target + " (" + list + ") SELECT " + exprs + " FROM " + recordset + " RETURNING " + target + ".*"
			}
		} else {
			if len(cols) == 0 {
				return nil, apierr.InvalidBody("Empty or invalid json: a PATCH body needs at least one column")
			}
			where, err := c.whereClause(rel, alias, nil, nil)
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
	if req.Prefs.Return == "representation" {
		body = bodyColumns(media, names)
	}
	sql := "WITH " + ident(alias) + " AS (" + mutation + ") SELECT NULL::bigint AS total, pg_catalog.count(_pgrest_t) AS page_total, " +
		body + ", " + responseSettings + " FROM (SELECT " +
		cols + " FROM " + ident(alias) + ") _pgrest_t"
	return &Plan{SQL: sql, Args: vals.args, MediaType: media.contentType, Singular: media.singular}, nil
}

// payload validates the JSON body and returns it as an array plus the
// columns to write: columns= when given, else the keys of the objects,
// which must all have the same keys (PGRST102 otherwise).
func payload(req *request.Request, many bool) (string, []string, error) {
	body := bytes.TrimSpace(req.Body)
	if len(body) == 0 {
		body = []byte("{}")
	}
	var rows []map[string]json.RawMessage
	if body[0] == '[' && many {
		if err := json.Unmarshal(body, &rows); err != nil {
			return "", nil, apierr.InvalidBody(err.Error())
		}
	} else {
		var one map[string]json.RawMessage
		if err := json.Unmarshal(body, &one); err != nil {
			return "", nil, apierr.InvalidBody(err.Error())
		}
		rows = []map[string]json.RawMessage{one}
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
