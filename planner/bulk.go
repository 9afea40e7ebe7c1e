package planner

import (
	"slices"
	"strings"

	"github.com/pgrest/pgrest/apierr"
	"github.com/pgrest/pgrest/cache"
	"github.com/pgrest/pgrest/request"
)

// A bulk POST (request.Bulk) is loaded by COPY into a staging table that
// lives for the transaction, then written by one INSERT ... SELECT built
// as for a JSON body: columns=, missing=default, on_conflict, resolution,
// return= and the response are the same; only the rows' source differs.

// bulkStage is the staging table, created per transaction.
const bulkStage = "pg_temp._pgrest_bulk"

// bulkColumns resolves the columns a bulk POST writes: columns= when
// given, else those the body's first line names; each must exist.
func (m *mutatePlan) bulkColumns(req *request.Request) error {
	b := req.Bulk
	cols := b.Cols
	if req.Columns != nil {
		cols = nil
		for _, col := range req.Columns {
			cols = appendUnique(cols, col)
		}
	}
	for _, col := range slices.Sorted(slices.Values(cols)) {
		if m.rel.Column(col) == nil {
			return apierr.ColumnNotFound(m.rel.Name, col)
		}
	}
	m.bulk = &request.Bulk{Format: b.Format, Cols: slices.Clone(b.Cols)}
	m.payload.cols = cols
	return nil
}

// bulkInsert renders the INSERT of a bulk POST and sets the plan's
// staging statements on w.
func (w *writer) bulkInsert() string {
	m := w.m
	b := m.bulk
	cols := m.payload.cols
	w.unit = "Row"
	if b.Format == request.BulkCSV {
		w.unit = "Line"
	}
	if b.Format != request.BulkJSON {
		w.stage, w.copy = w.csvStage(b.Cols, b.Format == request.BulkCSV)
	} else {
		w.stage = "CREATE TEMP TABLE _pgrest_bulk (line json) ON COMMIT DROP"
		// Lines are JSON objects the edge checked: no raw control
		// character, so \x01 and \x02 never occur as delimiter or quote.
		w.copy = "COPY " + bulkStage + " FROM STDIN (FORMAT csv, DELIMITER E'\\x01', QUOTE E'\\x02')"
	}
	var exprs []string
	insertCols := make([]string, 0, len(cols))
	for _, col := range cols {
		e, ok := w.bulkColumn(col)
		if !ok && m.missingDefault {
			continue // not in the body: its default applies
		}
		insertCols = append(insertCols, ident(col))
		exprs = append(exprs, e)
	}
	conflict := onConflict(m.conflict, m.keys, quoteAll(cols))
	if len(m.keys) > 0 && m.conflict == "merge-duplicates" {
		w.countInserted(m.keys)
	}
	ret := w.returningClause(w.target)
	from := " FROM " + bulkStage + " _pgrest_b"
	if b.Format == request.BulkJSON {
		from += w.bulkRecord(cols)
	}
	if len(insertCols) == 0 {
		return "INSERT INTO " + w.target + " SELECT" + from + conflict + ret
	}
	return "INSERT INTO " + w.target + " (" + strings.Join(insertCols, ", ") + ") SELECT " + strings.Join(exprs, ", ") + from + conflict + ret
}

// plainTypes are builtin base types whose input is a JSON scalar's text,
// as json_populate_record reads it, and whose names resolve under any
// search_path. Arrays, composites, enums and domains read their values
// their own way.
var plainTypes = map[string]bool{
	"text": true, "varchar": true, "bpchar": true, "name": true,
	"int2": true, "int4": true, "int8": true, "numeric": true, "float4": true, "float8": true,
	"bool": true, "date": true, "time": true, "timetz": true, "timestamp": true, "timestamptz": true,
	"interval": true, "uuid": true, "json": true, "jsonb": true,
}

// PlainType reports whether a column's values can be staged by COPY in
// the column's own type.
func PlainType(col *cache.Column) bool {
	return plainTypes[col.BaseType] && col.NominalType == col.BaseType
}

// csvStage is a staging table with the header's columns, typed as the
// relation's when plain (so COPY names the line and column of a bad
// value), else text read as a CSV body's value always was, and the
// COPY that loads the body: the header line when there is one, then rows
// in which an unquoted NULL is null, as in PostgREST's CSV.
func (w *writer) csvStage(header []string, hasHeader bool) (stage, cp string) {
	defs := make([]string, len(header))
	for i, h := range header {
		typ := "text"
		if col := w.rel.Column(h); col != nil && PlainType(col) {
			typ = col.Type
		}
		defs[i] = ident(h) + " " + typ
	}
	stage = "CREATE TEMP TABLE _pgrest_bulk (" + strings.Join(defs, ", ") + ") ON COMMIT DROP"
	if !hasHeader {
		return stage, "COPY " + bulkStage + " FROM STDIN (FORMAT csv, NULL 'NULL')"
	}
	// PostgREST reads a quoted "NULL" as null too.
	return stage, "COPY " + bulkStage + " FROM STDIN (FORMAT csv, HEADER true, NULL 'NULL', FORCE_NULL (" + strings.Join(quoteAll(header), ", ") + "))"
}

// bulkColumn is the expression reading col from a staged row; ok is false
// when a CSV body has no such column (then it is null, or its default).
func (w *writer) bulkColumn(col string) (string, bool) {
	if w.m.bulk.Format == request.BulkJSON {
		if e, _, ok := w.c.bodyRepresentations(w.rel, []string{col}); ok {
			return e, true
		}
		return "_pgrest_r." + ident(col), true
	}
	if !slices.Contains(w.m.bulk.Cols, col) {
		return "NULL", false
	}
	if c := w.rel.Column(col); c != nil && !PlainType(c) {
		// As a JSON string, the way a CSV body's values always went in.
		return "(json_populate_record(NULL::" + w.target + ", json_build_object(" + quoteLit(col) + ", _pgrest_b." + ident(col) + ")))." + ident(col), true
	}
	return "_pgrest_b." + ident(col), true
}

// bulkRecord reads each staged JSON line as a row of the relation, as a
// JSON body's rows are read (domain representations included).
func (w *writer) bulkRecord(cols []string) string {
	if _, defs, ok := w.c.bodyRepresentations(w.rel, cols); ok {
		return " CROSS JOIN LATERAL json_to_record(_pgrest_b.line) AS _pgrest_r(" + defs + ")"
	}
	return " CROSS JOIN LATERAL json_populate_record(NULL::" + w.target + ", _pgrest_b.line) AS _pgrest_r"
}
