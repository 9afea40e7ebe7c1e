package openapi

import (
	"github.com/pgrest/pgrest/cache"
)

// Catalog is what the request's own transaction reads from the live
// catalog: what the snapshot cannot know (the role's privileges, the
// schema's comment) or renders differently from PostgREST (type names,
// which end of a one-to-one foreign key holds it).
type Catalog struct {
	Description *string                     `json:"description"`
	Relations   map[string]*RelationFacts   `json:"relations"`
	Functions   []*FunctionFacts            `json:"functions"`
	ForeignKeys []*ForeignKey               `json:"foreign_keys"`
	byName      map[string][]*FunctionFacts // name -> overloads
}

// RelationFacts describe one relation of the schema (partitions excluded,
// as PostgREST never exposes them).
type RelationFacts struct {
	// Accessible: the role owns the relation or holds any privilege on it
	// or on one of its columns.
	Accessible bool                    `json:"accessible"`
	Columns    map[string]*ColumnFacts `json:"columns"`
}

// ColumnFacts is what the OpenAPI document says of a column beyond the
// schema cache (privileges).
type ColumnFacts struct {
	// Type is the name PostgREST's schema cache gives the column's type:
	// built-in types without their modifiers, domains over built-in types
	// as their base type, everything else schema-qualified.
	Type      string `json:"type"`
	MaxLength *int   `json:"max_length"`
}

// FunctionFacts is a function's description and arguments for OpenAPI.
type FunctionFacts struct {
	Name       string      `json:"name"`
	Executable bool        `json:"executable"`
	Args       []*ArgFacts `json:"args"` // input arguments, in order
}

// ArgFacts is one function argument in the OpenAPI document.
type ArgFacts struct {
	Name string `json:"name"`
	// Type is rendered with the request's search_path (what PostgREST
	// shows under follow-privileges, where it reads functions in the
	// request), QualifiedType with an empty one (what its schema cache
	// holds, shown under ignore-privileges).
	Type          string `json:"type"`
	QualifiedType string `json:"qualified_type"`
}

// ForeignKey is a foreign key, noted on the columns it references.
type ForeignKey struct {
	Constraint     string   `json:"constraint"`
	Table          cache.QI `json:"table"`
	Columns        []string `json:"columns"`
	ForeignTable   cache.QI `json:"foreign_table"`
	ForeignColumns []string `json:"foreign_columns"`
}

// CatalogSQL returns the catalog facts as one JSON document in the body
// column of the executor's fixed result row. $1 is the schema, $2 the
// constraint names of the one-to-one relationships to orient.
//
// Column types are rendered as PostgREST renders them with its search_path
// voided; the request's search_path is still in force, so non-built-in
// names are qualified by hand instead of by format_type.
const CatalogSQL = `
WITH rels AS (
  SELECT c.oid, c.relname,
    pg_has_role(c.relowner, 'USAGE')
      OR has_table_privilege(c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
      OR has_any_column_privilege(c.oid, 'SELECT, INSERT, UPDATE, REFERENCES') AS accessible
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = $1 AND c.relkind IN ('r', 'v', 'm', 'f', 'p') AND NOT c.relispartition
)
SELECT NULL::bigint AS total, 1::bigint AS page_total, json_build_object(
  'description', (SELECT d.description FROM pg_namespace n
    JOIN pg_description d ON d.objoid = n.oid AND d.classoid = 'pg_catalog.pg_namespace'::regclass
    WHERE n.nspname = $1),
  'relations', (SELECT coalesce(json_object_agg(r.relname, json_build_object(
    'accessible', r.accessible,
    'columns', (SELECT coalesce(json_object_agg(a.attname, json_build_object(
        'type', CASE
          WHEN t.typtype = 'd' AND btn.nspname = 'pg_catalog' THEN format_type(t.typbasetype, NULL)
          WHEN t.typtype <> 'd' AND tn.nspname = 'pg_catalog' THEN format_type(t.oid, NULL)
          WHEN et.oid IS NOT NULL THEN quote_ident(etn.nspname) || '.' || quote_ident(et.typname) || '[]'
          ELSE quote_ident(tn.nspname) || '.' || quote_ident(t.typname) END,
        'max_length', information_schema._pg_char_max_length(
          information_schema._pg_truetypid(a.*, t.*), information_schema._pg_truetypmod(a.*, t.*)))), '{}')
      FROM pg_attribute a
      JOIN pg_type t ON t.oid = a.atttypid
      JOIN pg_namespace tn ON tn.oid = t.typnamespace
      LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
      LEFT JOIN pg_namespace btn ON btn.oid = bt.typnamespace
      LEFT JOIN pg_type et ON t.typtype <> 'd' AND t.typlen = -1 AND et.oid = t.typelem
      LEFT JOIN pg_namespace etn ON etn.oid = et.typnamespace
      WHERE a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped))), '{}') FROM rels r),
  'functions', (SELECT coalesce(json_agg(json_build_object(
    'name', p.proname,
    'executable', has_function_privilege(p.oid, 'execute'),
    'args', (SELECT coalesce(json_agg(json_build_object(
        'name', coalesce(p.proargnames[x.o], ''),
        'type', format_type(x.t, NULL),
        'qualified_type', CASE
          WHEN tn.nspname = 'pg_catalog' THEN format_type(t.oid, NULL)
          WHEN et.oid IS NOT NULL THEN quote_ident(etn.nspname) || '.' || quote_ident(et.typname) || '[]'
          ELSE quote_ident(tn.nspname) || '.' || quote_ident(t.typname) END) ORDER BY x.o), '[]')
      FROM unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) WITH ORDINALITY AS x(t, o)
      JOIN pg_type t ON t.oid = x.t
      JOIN pg_namespace tn ON tn.oid = t.typnamespace
      LEFT JOIN pg_type et ON t.typtype <> 'd' AND t.typlen = -1 AND et.oid = t.typelem
      LEFT JOIN pg_namespace etn ON etn.oid = et.typnamespace
      WHERE coalesce(p.proargmodes[x.o], 'i') IN ('i', 'b', 'v')))), '[]')
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = $1 AND p.prokind = 'f'),
  'foreign_keys', (SELECT coalesce(json_agg(json_build_object(
    'constraint', con.conname,
    'table', json_build_object('schema', n1.nspname, 'name', c1.relname),
    'columns', (SELECT json_agg(a.attname ORDER BY k.o) FROM unnest(con.conkey) WITH ORDINALITY AS k(n, o)
      JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n),
    'foreign_table', json_build_object('schema', n2.nspname, 'name', c2.relname),
    'foreign_columns', (SELECT json_agg(a.attname ORDER BY k.o) FROM unnest(con.confkey) WITH ORDINALITY AS k(n, o)
      JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n))), '[]')
    FROM pg_constraint con
    JOIN pg_class c1 ON c1.oid = con.conrelid JOIN pg_namespace n1 ON n1.oid = c1.relnamespace
    JOIN pg_class c2 ON c2.oid = con.confrelid JOIN pg_namespace n2 ON n2.oid = c2.relnamespace
    WHERE con.contype = 'f' AND con.conname::text = ANY($2::text[]))
)::text AS body, NULL::bytea AS body_bytes, NULL::text AS response_headers, NULL::text AS response_status`

// CatalogArgs are the arguments of CatalogSQL for a schema of snap.
func CatalogArgs(snap *cache.Snapshot, schema string) []any {
	seen := map[string]bool{}
	names := []string{}
	for _, name := range snap.RelationNames(schema) {
		for _, r := range snap.RelationshipsFrom(cache.QI{Schema: schema, Name: name}) {
			if r.Cardinality == cache.OneToOne && r.Computed == nil && len(r.Columns) == 1 && !seen[r.Constraint] {
				seen[r.Constraint] = true
				names = append(names, r.Constraint)
			}
		}
	}
	return []any{schema, names}
}

// function finds the facts of one overload by its input argument names,
// which is how PostgREST tells overloads apart too.
func (c *Catalog) function(f *cache.Function) *FunctionFacts {
	if c.byName == nil {
		c.byName = map[string][]*FunctionFacts{}
		for _, ff := range c.Functions {
			c.byName[ff.Name] = append(c.byName[ff.Name], ff)
		}
	}
next:
	for _, ff := range c.byName[f.Name] {
		if len(ff.Args) != len(f.Params) {
			continue
		}
		for i, a := range ff.Args {
			if a.Name != f.Params[i].Name {
				continue next
			}
		}
		return ff
	}
	return nil
}
