package planner

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/url"
	"slices"
	"sort"

	"github.com/pgrest/pgrest/apierr"
	"github.com/pgrest/pgrest/cache"
	"github.com/pgrest/pgrest/request"
)

// mutatePlan is a resolved write, as PostgREST's MutatePlan: the target,
// the payload's shape (never its values: the body is parameter
// payload.param), the conflict handling, what the statement returns, and
// the read tree of the filters and of the representation.
type mutatePlan struct {
	action  request.Action
	rel     *cache.Relation
	alias   string
	key     []string // the primary key (a view's derived one)
	payload payloadShape
	// conflict is the ON CONFLICT resolution ("" for none) on keys.
	conflict string
	keys     []string
	// full: the statement returns whole rows; else only ret (none: "1").
	full bool
	ret  []string
	// representation: return=representation; location: the key of the
	// one row inserted, for Location (return=headers-only).
	representation, location bool
	missingDefault           bool
	// bulk: the rows come from a COPY staging table, not the payload
	// parameter (planner/bulk.go); payload.cols are the columns written.
	bulk  *request.Bulk
	root  *readNode
	media *media
	// paramTypes are the SQL types of all parameters, which the statement
	// must type even where it does not use them.
	paramTypes []string
}

// preparedWrite is what a write needs before its shape is known: the
// relation and the decoded payload, checked against the URL. It runs on
// every request, memo hit or not, since its checks read values.
type preparedWrite struct {
	rel *cache.Relation
	key []string
	p   *rowsPayload // nil for DELETE
}

func isWrite(a request.Action) bool {
	switch a {
	case request.ActCreate, request.ActUpsert, request.ActUpdate, request.ActDelete:
		return true
	}
	return false
}

func prepareWrite(req *request.Request, snap *cache.Snapshot) (*preparedWrite, error) {
	rel := snap.Relation(req.Schema, req.Resource)
	if rel == nil {
		return nil, notFound(snap, req.Schema, req.Resource)
	}
	w := &preparedWrite{rel: rel, key: snap.KeyColumns(rel)}
	if req.Bulk != nil && req.Action == request.ActCreate {
		return w, nil // the body streams into COPY: its columns are the shape
	}
	if req.Action == request.ActUpsert {
		if err := checkPut(req, w.key); err != nil {
			return nil, err
		}
	}
	if req.Action == request.ActDelete {
		return w, nil
	}
	p, err := payload(req, rel)
	if err != nil {
		return nil, err
	}
	if req.Action == request.ActUpsert {
		if err := putMatchesURL(req, p.first); err != nil {
			return nil, err
		}
		// PUT writes the row the URL names: the first of the payload.
		p = p.firstOnly()
	}
	w.p = p
	return w, nil
}

// bindsBody reports whether the statement reads the payload: every
// insert, and an update that sets columns.
func (w *preparedWrite) bindsBody(a request.Action) bool {
	return w.p != nil && (a != request.ActUpdate || len(w.p.cols) > 0)
}

// payloadShape is what the SQL of a write depends on in its payload: the
// columns, and with missing=default which rows have which of them.
type payloadShape struct {
	cols      []string
	object    bool
	onlyFirst bool
	n         int
	present   []bool
	// inFirst records, column by column, whether the first row has it.
	inFirst []bool
	param   int
}

func (s *payloadShape) has(row, col int) bool {
	return s.present == nil || s.present[row*len(s.cols)+col]
}

func (s *payloadShape) sparse() bool { return slices.Contains(s.present, false) }

// shape is the payload's shape; inFirst only matters for defaults.
func (p *rowsPayload) shape(missingDefault bool) payloadShape {
	s := payloadShape{cols: p.cols, object: p.object, onlyFirst: p.onlyFirst}
	if missingDefault {
		s.n, s.present = p.n, p.present
		s.inFirst = make([]bool, len(p.cols))
		for i, col := range p.cols {
			_, s.inFirst[i] = p.first[col]
		}
	}
	return s
}

// mutate resolves a write into its plan tree.
func (b *builder) mutate(w *preparedWrite) (*mutatePlan, error) {
	req, rel := b.req, w.rel
	m := &mutatePlan{action: req.Action, rel: rel, alias: req.Resource, key: w.key, missingDefault: req.Prefs.Missing == "default",
		representation: req.Prefs.Return == "representation"}
	m.location = req.Action == request.ActCreate && req.Prefs.Return == "headers-only" && len(w.key) > 0
	m.full, m.ret = returning(req, rel, w.key)
	m.paramTypes = make([]string, len(b.vals.args))
	for i, a := range b.vals.args {
		m.paramTypes[i] = "text"
		if _, ok := a.([]string); ok {
			m.paramTypes[i] = "text[]" // in. and quantified lists: the shape says which
		}
	}
	if req.Bulk != nil && req.Action == request.ActCreate {
		if err := m.bulkColumns(req); err != nil {
			return nil, err
		}
		m.conflict, m.keys = conflictTarget(req, w.key)
	}
	if w.p != nil {
		m.payload = w.p.shape(m.missingDefault)
		if w.bindsBody(req.Action) {
			m.payload.param = b.param(&req.Body)
		}
		if req.Action != request.ActUpdate {
			m.conflict, m.keys = conflictTarget(req, w.key)
		}
	}
	var items []request.SelectItem
	if m.representation {
		items = req.Select
	}
	b.lenient = true
	root, err := b.readTree(rel, items, m.alias)
	if err != nil {
		return nil, err
	}
	m.root = root
	if m.media, err = negotiate(req, b.opts, offerFor(b.snap, req, rel, nil)); err != nil {
		return nil, err
	}
	limited := m.action == request.ActDelete || (m.action == request.ActUpdate && len(m.payload.cols) > 0)
	if limited && (root.limit != nil || root.offset > 0) && rel.Kind != cache.KindTable {
		return nil, apierr.LimitNeedsTable()
	}
	return m, nil
}

// compileWrite plans POST (insert), PUT (upsert), PATCH (update) and
// DELETE. The statement is a data-modifying CTE named after the resource,
// so the returned rows go through the same select/embedding renderer as
// reads.
func compileWrite(req *request.Request, snap *cache.Snapshot, opts Options, vals *values, pw *preparedWrite) (*Plan, error) {
	b := &builder{req: req, snap: snap, opts: opts, vals: vals}
	m, err := b.mutate(pw)
	if err != nil {
		return nil, err
	}
	c := &renderer{snap: snap, opts: opts, mutation: true}
	return c.write(m), nil
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

// conflictTarget is an insert's conflict handling: PUT, or POST with
// Prefer: resolution, on on_conflict= or the primary key. Without either,
// as in PostgREST, the resolution is not applied ("", nil).
func conflictTarget(req *request.Request, pk []string) (string, []string) {
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
	return res, keys
}

// checkPut enforces PUT's shape: eq filters on exactly the primary key
// columns (PGRST105), no limit or offset (PGRST114).
func checkPut(req *request.Request, pk []string) error {
	for _, r := range req.Ranges {
		if len(r.Path) == 0 && (r.Limit != nil || r.Offset != 0) {
			return apierr.PutLimitNotAllowed()
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
		return apierr.InvalidFilters()
	}
	return nil
}

// putMatchesURL checks that the PUT payload's first row has the primary
// key the URL names (PGRST115).
func putMatchesURL(req *request.Request, first map[string]json.RawMessage) error {
	mismatch := apierr.PutMatchingPk()
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
			return nil, apierr.ColumnNotFound(rel.Name, col)
		}
	}
	return p, nil
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
	return nil, apierr.PayloadContentType(ct)
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
