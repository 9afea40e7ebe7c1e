package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Querier is what Load needs: a pool, a connection or a transaction.
type Querier interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Partitions are reached through their partitioned table only, as in
// PostgREST. pg_description is read directly, not through obj_description() and
// col_description(): those are SQL functions, planned anew on every call.
const relationsSQL = `
SELECT n.nspname, c.relname,
  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized_view'
                 WHEN 'f' THEN 'foreign_table' WHEN 'p' THEN 'partitioned_table' END,
  (SELECT description FROM pg_description WHERE objoid = c.oid AND classoid = 'pg_catalog.pg_class'::regclass AND objsubid = 0),
  c.relkind IN ('r','p') OR (pg_relation_is_updatable(c.oid::regclass, true) & 8) = 8,
  c.relkind IN ('r','p') OR (pg_relation_is_updatable(c.oid::regclass, true) & 4) = 4,
  c.relkind IN ('r','p') OR (pg_relation_is_updatable(c.oid::regclass, true) & 16) = 16,
  CASE WHEN c.relkind IN ('v', 'm') THEN ` + viewKeySQL + ` ELSE
  coalesce((SELECT array_agg(a.attname::text ORDER BY array_position(i.indkey, a.attnum))
            FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
            WHERE i.indrelid = c.oid AND i.indisprimary), '{}') END,
  c.oid
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY($1) AND c.relkind IN ('r','v','m','f','p') AND NOT c.relispartition /*scope*/`

// viewKeySQL is a view's primary key as PostgREST infers it: the primary
// key columns of the tables it reads, through other views if need be: a
// join's tables in the order the view first shows them, each table's in
// key order, under the name of the first view column that shows each (a
// view may show one twice). The tables and the views between may be in
// any schema, exposed or not.
const viewKeySQL = `coalesce((
  WITH RECURSIVE chain AS (
    SELECT va.attnum AS vnum, m.viewcol, m.tbl AS base, m.col AS bnum
    FROM pg_class v JOIN pg_rewrite rw ON rw.ev_class = v.oid AND rw.rulename = '_RETURN'` + viewColumnsSQL + `
    WHERE v.oid = c.oid
    UNION ALL
    SELECT ch.vnum, ch.viewcol, m.tbl, m.col
    FROM chain ch JOIN pg_class v ON v.oid = ch.base AND v.relkind = 'v'
    JOIN pg_rewrite rw ON rw.ev_class = v.oid AND rw.rulename = '_RETURN'` + viewColumnsSQL + `
    WHERE va.attnum = ch.bnum
  )
  SELECT array_agg(k.viewcol ORDER BY k.first, k.pos) FROM (
    SELECT d.*, min(d.vnum) OVER (PARTITION BY d.base) AS first FROM (
      SELECT DISTINCT ON (ch.base, ch.bnum) ch.viewcol, ch.vnum, ch.base, array_position(i.indkey, ch.bnum) AS pos
      FROM chain ch JOIN pg_index i ON i.indrelid = ch.base AND i.indisprimary AND ch.bnum = ANY(i.indkey)
      ORDER BY ch.base, ch.bnum, ch.vnum) d) k), '{}')`

const columnsSQL = `
SELECT n.nspname, c.relname, a.attname, a.attnum,
  format_type(a.atttypid, a.atttypmod),
  t.typname,
  coalesce(bt.typname, t.typname),
  NOT (a.attnotnull OR (t.typtype = 'd' AND t.typnotnull)),
  pg_get_expr(d.adbin, d.adrelid),
  CASE WHEN a.atttypmod > 4 AND coalesce(bt.typname, t.typname) IN ('varchar','bpchar') THEN a.atttypmod - 4 END,
  coalesce((SELECT array_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = coalesce(bt.oid, t.oid)), '{}'),
  (SELECT description FROM pg_description WHERE objoid = c.oid AND classoid = 'pg_catalog.pg_class'::regclass AND objsubid = a.attnum)
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN LATERAL (
  -- the base type under domains over domains
  WITH RECURSIVE chain AS (
    SELECT t.typbasetype AS oid, 1 AS depth WHERE t.typtype = 'd'
    UNION ALL
    SELECT d.typbasetype, chain.depth + 1 FROM chain JOIN pg_type d ON d.oid = chain.oid WHERE d.typtype = 'd'
  )
  SELECT b.oid, b.typname FROM chain JOIN pg_type b ON b.oid = chain.oid ORDER BY chain.depth DESC LIMIT 1
) bt ON true
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = ANY($1) AND c.relkind IN ('r','v','m','f','p') AND NOT c.relispartition AND a.attnum > 0 AND NOT a.attisdropped /*scope*/
ORDER BY n.nspname, c.relname, a.attnum`

// foreign keys whose both ends are in the exposed schemas; unique tells
// whether the referencing columns are unique (one-to-one).
const fkSQL = `
SELECT ns1.nspname, c1.relname, ns2.nspname, c2.relname, con.conname,
  (SELECT array_agg(a.attname ORDER BY k.ord) FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
     JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum),
  (SELECT array_agg(a.attname ORDER BY k.ord) FROM unnest(con.confkey) WITH ORDINALITY k(attnum, ord)
     JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum),
  EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = con.conrelid AND i.indisunique
          AND i.indkey::int2[] @> con.conkey AND i.indkey::int2[] <@ con.conkey)
FROM /*fkfrom*/pg_constraint con
JOIN pg_class c1 ON c1.oid = con.conrelid JOIN pg_namespace ns1 ON ns1.oid = c1.relnamespace
JOIN pg_class c2 ON c2.oid = con.confrelid JOIN pg_namespace ns2 ON ns2.oid = c2.relnamespace
WHERE con.contype = 'f' AND con.conparentid = 0
  AND ns1.nspname NOT IN ('pg_catalog', 'information_schema') AND ns2.nspname NOT IN ('pg_catalog', 'information_schema')`

// viewColumnsSQL traces each column of a view to the base column it shows,
// from the target list of the view's query tree (resorigtbl/resorigcol,
// which PostgreSQL follows through subqueries and CTEs). The tree's text is
// cut at every ":resno " and the fields are taken by position: a regular
// expression over it costs milliseconds a view. A target entry is the
// view's own when its number and name are the view column's: nested
// queries' entries don't pass that check.
const viewColumnsSQL = `
CROSS JOIN LATERAL unnest(string_to_array(rw.ev_action::text, ':resno ')) AS te
CROSS JOIN LATERAL (SELECT split_part(te, ' ', 2) = ':resname' AND split_part(te, ' ', 6) = ':resorigtbl' AS ok) f
CROSS JOIN LATERAL (SELECT CASE WHEN f.ok THEN split_part(te, ' ', 1)::int2 END AS resno, split_part(te, ' ', 3) AS viewcol,
  CASE WHEN f.ok THEN split_part(te, ' ', 7)::oid END AS tbl, CASE WHEN f.ok THEN split_part(te, ' ', 9)::int2 END AS col) m
JOIN pg_attribute va ON va.attrelid = v.oid AND va.attnum = m.resno AND va.attname = m.viewcol
JOIN pg_class b ON b.oid = m.tbl AND b.oid <> v.oid
JOIN pg_namespace bn ON bn.oid = b.relnamespace
JOIN pg_attribute ba ON ba.attrelid = b.oid AND ba.attnum = m.col`

// viewDepsSQL lists, per view and base relation, the base columns the
// view shows and the view columns that show them (parallel arrays). A view
// over views is traced through them, whatever their schema, down to the
// tables: it shows their columns too, and gets their relationships. Only
// the views the top ones read (reach, by pg_depend) have their query trees
// parsed. The scoped form starts from the changed relations' oids
// (DISTINCT pins the plan to them).
const viewDepsSQL = `
WITH RECURSIVE top AS (
  SELECT v.oid FROM /*vfrom*/
  JOIN pg_namespace vn ON vn.oid = v.relnamespace
  WHERE v.relkind IN ('v', 'm') AND vn.nspname = ANY($1)
), reach AS (
  SELECT oid FROM top
  UNION
  SELECT d.refobjid FROM reach r
  JOIN pg_rewrite rw ON rw.ev_class = r.oid AND rw.rulename = '_RETURN'
  JOIN pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = rw.oid AND d.refclassid = 'pg_catalog.pg_class'::regclass
    AND d.refobjid <> r.oid
  JOIN pg_class dv ON dv.oid = d.refobjid AND dv.relkind = 'v'
), direct AS (
  SELECT v.oid AS view, va.attnum AS vnum, m.viewcol, m.tbl AS base, m.col AS bnum
  FROM reach JOIN pg_class v ON v.oid = reach.oid
  JOIN pg_rewrite rw ON rw.ev_class = v.oid AND rw.rulename = '_RETURN'` + viewColumnsSQL + `
), chain AS (
  SELECT d.view, d.vnum, d.viewcol, d.base, d.bnum FROM direct d WHERE d.view IN (SELECT oid FROM top)
  UNION ALL
  SELECT c.view, c.vnum, c.viewcol, d.base, d.bnum FROM chain c JOIN direct d ON d.view = c.base AND d.vnum = c.bnum
)
SELECT vn.nspname, v.relname, bn.nspname, b.relname,
  array_agg(ba.attname::text ORDER BY c.vnum), array_agg(c.viewcol ORDER BY c.vnum),
  (SELECT array_agg(pa.attname::text) FROM pg_constraint pk
     JOIN pg_attribute pa ON pa.attrelid = pk.conrelid AND pa.attnum = ANY(pk.conkey)
   WHERE pk.conrelid = b.oid AND pk.contype = 'p')
FROM chain c
JOIN pg_class v ON v.oid = c.view JOIN pg_namespace vn ON vn.oid = v.relnamespace
JOIN pg_class b ON b.oid = c.base JOIN pg_namespace bn ON bn.oid = b.relnamespace
JOIN pg_attribute ba ON ba.attrelid = b.oid AND ba.attnum = c.bnum
GROUP BY 1, 2, 3, 4, b.oid`

// The full and scoped forms of viewDepsSQL.
var (
	viewDepsFullSQL   = strings.Replace(viewDepsSQL, "/*vfrom*/", "pg_class v", 1)
	viewDepsScopedSQL = strings.Replace(viewDepsSQL, "/*vfrom*/", "(SELECT DISTINCT oid FROM "+namedOidsSQL+") sc JOIN pg_class v ON v.oid = sc.oid", 1)
)

// namedOidsSQL finds relations by schema and name (the parallel text
// arrays $2 and $3; namedOidsSQL1: $1 and $2) with catalog joins.
// to_regclass or a ::regclass cast would check USAGE on the schema, which
// the authenticator role usually lacks on the exposed schemas (only the
// roles it switches to have it), and fail the refresh. A name not found
// yields no row.
const (
	namedOidsSQL = `(SELECT nc.oid FROM unnest($2::text[], $3::text[]) AS u(s, n)
  JOIN pg_catalog.pg_namespace nn ON nn.nspname = u.s
  JOIN pg_catalog.pg_class nc ON nc.relnamespace = nn.oid AND nc.relname = u.n) named`
	namedOidsSQL1 = `(SELECT nc.oid FROM unnest($1::text[], $2::text[]) AS u(s, n)
  JOIN pg_catalog.pg_namespace nn ON nn.nspname = u.s
  JOIN pg_catalog.pg_class nc ON nc.relnamespace = nn.oid AND nc.relname = u.n) named`
)

// dependentViewsSQL lists the changed relations ($1 schemas, $2 names)
// and the views reading them, directly or through other views, that are
// in the exposed schemas ($3).
const dependentViewsSQL = `
WITH RECURSIVE dep(oid) AS (
  SELECT oid FROM ` + namedOidsSQL1 + `
  UNION
  SELECT rw.ev_class FROM dep
  JOIN pg_catalog.pg_depend d ON d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = dep.oid
    AND d.classid = 'pg_catalog.pg_rewrite'::regclass
  JOIN pg_catalog.pg_rewrite rw ON rw.oid = d.objid AND rw.ev_class <> dep.oid
)
SELECT n.nspname, c.relname FROM dep
JOIN pg_catalog.pg_class c ON c.oid = dep.oid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY($3)`

// withDependentViews adds to the changed relations the views that read
// them: a view records its base columns by the base's name and theirs, so
// a renamed column, or a table moved into the exposed schemas, changes
// what the view shows of it without an event of the view's own.
func withDependentViews(ctx context.Context, tx pgx.Tx, only []QI, schemas []string) ([]QI, error) {
	ss, ns := make([]string, len(only)), make([]string, len(only))
	seen := make(map[QI]bool, len(only))
	for i, qi := range only {
		ss[i], ns[i], seen[qi] = qi.Schema, qi.Name, true
	}
	rows, err := tx.Query(ctx, dependentViewsSQL, ss, ns, schemas)
	if err != nil {
		return nil, err
	}
	deps, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (QI, error) {
		var qi QI
		return qi, row.Scan(&qi.Schema, &qi.Name)
	})
	if err != nil {
		return nil, err
	}
	for _, qi := range deps {
		if !seen[qi] {
			seen[qi] = true
			only = append(only, qi)
		}
	}
	return only, nil
}

// namedSQL gives the oid of each changed name ($1 schemas, $2 names) in
// whatever schema, exposed or not, to tell renames and moves.
const namedSQL = `SELECT u.s, u.n, nc.oid FROM unnest($1::text[], $2::text[]) AS u(s, n)
  JOIN pg_catalog.pg_namespace nn ON nn.nspname = u.s
  JOIN pg_catalog.pg_class nc ON nc.relnamespace = nn.oid AND nc.relname = u.n`

// The scoped forms of the queries, for refreshes, which run them with
// generic plans (see load): the changed relations are resolved to oids
// first and everything else is reached from them through catalog indexes.
// Where a planner guess could still turn that into a scan of a whole
// catalog (merge joins over pg_depend), a LATERAL subquery with an
// aggregate or DISTINCT pins the nested loop. Full loads use the unscoped
// text, so neither plan is a compromise.
const (
	// An array of oids, not IN (subquery): the planner would hash the
	// subquery and scan pg_attribute whole.
	relScope = "AND c.oid = ANY (ARRAY(SELECT oid FROM " + namedOidsSQL + "))"

	// scopeCTE is what a refresh re-derives relationships around: the
	// changed relations ($1 schemas, $2 names) and the tables their views
	// read, since a view's relationships come from its tables' foreign
	// keys. Views read by a changed view are not in it: their own
	// relationships do not change with it.
	scopeCTE = `
WITH changed AS (
  SELECT oid FROM ` + namedOidsSQL1 + `
), bases AS (
  SELECT b.oid FROM changed ch
  CROSS JOIN LATERAL (
    SELECT DISTINCT d.refobjid FROM pg_rewrite rw
    JOIN pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = rw.oid AND d.refclassid = 'pg_catalog.pg_class'::regclass
    WHERE rw.ev_class = ch.oid AND d.refobjid <> ch.oid
  ) r
  JOIN pg_class b ON b.oid = r.refobjid AND b.relkind IN ('r', 'p', 'f')
), scope AS (
  SELECT oid FROM changed WHERE oid IS NOT NULL UNION SELECT oid FROM bases
)`

	// scopeBasesSQL names the bases, so that the relationships dropped in
	// Go are exactly those whose foreign keys fkScopedSQL re-reads.
	scopeBasesSQL = scopeCTE + `
SELECT n.nspname, c.relname FROM bases JOIN pg_class c ON c.oid = bases.oid JOIN pg_namespace n ON n.oid = c.relnamespace`

	// fkScopedFrom finds the foreign keys touching the scope from either
	// end: by conrelid through its index, by confrelid (which has none)
	// through pg_depend, where a foreign key depends on the columns it
	// references.
	fkScopedFrom = `, cons AS (
  SELECT con.oid FROM scope JOIN pg_constraint con ON con.conrelid = scope.oid AND con.contype = 'f'
  UNION
  SELECT d.objid FROM scope JOIN pg_depend d ON d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = scope.oid
    AND d.classid = 'pg_catalog.pg_constraint'::regclass
)`
)

var fkScopedSQL = scopeCTE + fkScopedFrom + strings.Replace(fkSQL, "/*fkfrom*/pg_constraint con", "cons JOIN pg_constraint con ON con.oid = cons.oid", 1)

// genericPlansSQL makes the rest of a refresh's transaction use generic
// plans: the scoped queries' custom plans cost more to plan than to run,
// and PostgreSQL keeps choosing them because it estimates a parameter
// array at ten elements. The generic plans, made once per connection, are
// the index lookups the scoped texts are written for. (plan_cache_mode
// is PostgreSQL 12's.)
const genericPlansSQL = `SELECT set_config('plan_cache_mode', 'force_generic_plan', true)
WHERE current_setting('server_version_num')::int >= 120000`

// scoped returns the full or the scoped text of a query and its arguments.
func scoped(sql, marker, cond string, scope bool, args ...any) (string, []any) {
	if !scope {
		return strings.Replace(sql, marker, "", 1), args[:1]
	}
	return strings.Replace(sql, marker, cond, 1), args
}

const functionsSQL = `
SELECT n.nspname, p.proname, obj_description(p.oid, 'pg_proc'),
  coalesce(p.proargnames, '{}'),
  coalesce((SELECT array_agg(format_type(t, NULL) ORDER BY o) FROM unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) WITH ORDINALITY x(t, o)), '{}'),
  coalesce(p.proargmodes::text[], '{}'),
  p.pronargdefaults, p.provariadic <> 0,
  tn.nspname, t.typname, t.typtype, p.proretset,
  p.provolatile, coalesce(p.proconfig, '{}'), p.prokind = 'p', p.prorows,
  coalesce((SELECT array_agg(a.attname ORDER BY a.attnum) FROM pg_attribute a
            WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped), '{}'),
  coalesce((SELECT array_agg(format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum) FROM pg_attribute a
            WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped), '{}'),
  coalesce((SELECT ARRAY[an.nspname::text, ac.relname::text] FROM pg_type at
            JOIN pg_class ac ON ac.oid = at.typrelid JOIN pg_namespace an ON an.oid = ac.relnamespace
            WHERE p.pronargs > 0 AND at.oid = p.proargtypes[0] AND ac.relkind IN ('r','v','m','f','p')), '{}'),
  t.typrelid <> 0 AND EXISTS (SELECT 1 FROM pg_class rc WHERE rc.oid = t.typrelid AND rc.relkind IN ('r','v','m','f','p')),
  t.typtype = 'd' AND t.typbasetype = 'pg_catalog.bytea'::regtype
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_type rt ON rt.oid = p.prorettype
-- A domain over a row type returns that row type.
JOIN pg_type t ON t.oid = CASE WHEN rt.typtype = 'd' AND EXISTS (SELECT 1 FROM pg_type bt WHERE bt.oid = rt.typbasetype AND bt.typtype = 'c')
  THEN rt.typbasetype ELSE rt.oid END
JOIN pg_namespace tn ON tn.oid = t.typnamespace
WHERE n.nspname = ANY($1) AND p.prokind IN ('f','p')`

// Load introspects the schemas in one REPEATABLE READ read-only
// transaction, so the snapshot is consistent, with one round trip. Given a
// pgx.Tx, it runs in that transaction as it is, so a caller can read more
// in the same snapshot (the listener reads the event log); the rest of
// that transaction then uses generic plans (genericPlansSQL).
func Load(ctx context.Context, q Querier, schemas []string) (*Snapshot, error) {
	return load(ctx, q, schemas, nil, false, nil)
}

// Refresh derives a new snapshot from old, re-introspecting only the
// changed relations (and the functions when functions is set, or when a
// changed relation is a function's result type). Only the relationships
// around the changed relations are derived anew. old is never modified:
// unchanged relations, and the relationship lists of untouched relations,
// are shared with it. A pgx.Tx is used as in Load.
func Refresh(ctx context.Context, q Querier, old *Snapshot, changed []QI, functions bool) (*Snapshot, error) {
	return load(ctx, q, old.Schemas, changed, functions, old)
}

// txBeginner is what pools and connections offer beyond Querier.
type txBeginner interface {
	BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
}

// begin opens the REPEATABLE READ read-only transaction of a load, in one
// statement where q can say so.
func begin(ctx context.Context, q Querier) (pgx.Tx, error) {
	if bq, ok := q.(txBeginner); ok {
		return bq.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	}
	tx, err := q.Begin(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"); err != nil {
		tx.Rollback(ctx)
		return nil, err
	}
	return tx, nil
}

func load(ctx context.Context, q Querier, schemas []string, only []QI, functions bool, old *Snapshot) (*Snapshot, error) {
	tx, given := q.(pgx.Tx)
	if !given {
		var err error
		if tx, err = begin(ctx, q); err != nil {
			return nil, err
		}
		defer tx.Rollback(ctx)
	}
	s := &Snapshot{
		Schemas:       schemas,
		Relations:     map[QI]*Relation{},
		Functions:     map[QI][]*Function{},
		Relationships: map[QI][]*Relationship{},
		Timezones:     map[string]bool{},
	}
	if old != nil && len(only) > 0 {
		var err error
		if only, err = withDependentViews(ctx, tx, only, schemas); err != nil {
			return nil, fmt.Errorf("schema cache: %w", err)
		}
	}
	b := &pgx.Batch{}
	var onlySchemas, onlyNames []string // nil: everything
	if old != nil {
		b.Queue(genericPlansSQL)
		onlySchemas, onlyNames = []string{}, []string{}
		if old.Relations != nil {
			s.Relations = maps.Clone(old.Relations)
		}
		for _, qi := range only {
			delete(s.Relations, qi)
			onlySchemas, onlyNames = append(onlySchemas, qi.Schema), append(onlyNames, qi.Name)
			// A function returning the relation's rows lists its columns.
			functions = functions || old.fnReturns[qi]
		}
		s.Timezones, s.PGVersion = old.Timezones, old.PGVersion
		if !functions {
			s.Functions, s.relFns, s.fnReturns = old.Functions, old.relFns, old.fnReturns
		}
	}
	refresh := old != nil
	relQ, relArgs := scoped(relationsSQL, "/*scope*/", relScope, refresh, schemas, onlySchemas, onlyNames)
	colQ, colArgs := scoped(columnsSQL, "/*scope*/", relScope, refresh, schemas, onlySchemas, onlyNames)
	viewQ, viewArgs := viewDepsFullSQL, []any{schemas}
	fkQ, fkArgs := fkSQL, []any(nil)
	if refresh {
		viewQ, viewArgs = viewDepsScopedSQL, []any{schemas, onlySchemas, onlyNames}
		fkQ, fkArgs = fkScopedSQL, []any{onlySchemas, onlyNames}
	}
	b.Queue(relQ, relArgs...).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			r := &Relation{}
			if err := rows.Scan(&r.Schema, &r.Name, &r.Kind, &r.Description, &r.Insertable, &r.Updatable, &r.Deletable, &r.PrimaryKey, &r.oid); err != nil {
				return err
			}
			s.Relations[r.QI()] = r
		}
		return rows.Err()
	})
	b.Queue(colQ, colArgs...).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var sch, rel string
			c := &Column{}
			if err := rows.Scan(&sch, &rel, &c.Name, &c.Position, &c.Type, &c.NominalType, &c.BaseType, &c.Nullable, &c.Default, &c.MaxLength, &c.Enum, &c.Description); err != nil {
				return err
			}
			if r := s.Relations[QI{sch, rel}]; r != nil {
				r.Columns = append(r.Columns, c)
			}
		}
		return rows.Err()
	})
	var fks []fkRow
	b.Queue(fkQ, fkArgs...).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var f fkRow
			if err := rows.Scan(&f.from.Schema, &f.from.Name, &f.to.Schema, &f.to.Name, &f.name, &f.cols, &f.fcols, &f.unique); err != nil {
				return err
			}
			fks = append(fks, f)
		}
		return rows.Err()
	})
	var views []viewDep
	b.Queue(viewQ, viewArgs...).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var d viewDep
			if err := rows.Scan(&d.view.Schema, &d.view.Name, &d.base.Schema, &d.base.Name, &d.cols, &d.as, &d.basePK); err != nil {
				return err
			}
			views = append(views, d)
		}
		return rows.Err()
	})
	var bases []QI
	var named map[QI]uint32
	if refresh {
		named = map[QI]uint32{}
		b.Queue(namedSQL, onlySchemas, onlyNames).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var qi QI
				var oid uint32
				if err := rows.Scan(&qi.Schema, &qi.Name, &oid); err != nil {
					return err
				}
				named[qi] = oid
			}
			return rows.Err()
		})
		b.Queue(scopeBasesSQL, onlySchemas, onlyNames).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var qi QI
				if err := rows.Scan(&qi.Schema, &qi.Name); err != nil {
					return err
				}
				bases = append(bases, qi)
			}
			return rows.Err()
		})
	}
	if old == nil || functions {
		b.Queue(functionsSQL, schemas).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				f, err := scanFunction(rows)
				if err != nil {
					return err
				}
				qi := QI{f.Schema, f.Name}
				s.Functions[qi] = append(s.Functions[qi], f)
			}
			return rows.Err()
		})
	}
	if old == nil || functions {
		queueMedia(b, s, schemas)
	} else {
		// They change only with functions, aggregates, casts, types or
		// extensions, whose events refresh the functions or load fully.
		s.MediaHandlers, s.Representations, s.PostGIS = old.MediaHandlers, old.Representations, old.PostGIS
	}
	if old != nil {
		return finish(ctx, tx, b, s, &fks, &views, &bases, old, only, functions, named)
	}
	b.Queue("SELECT name FROM pg_timezone_names").Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				return err
			}
			s.Timezones[n] = true
		}
		return rows.Err()
	})
	b.Queue("SELECT current_setting('server_version_num')::int").QueryRow(func(r pgx.Row) error {
		return r.Scan(&s.PGVersion)
	})
	// Prepare the scoped statements and plan them on this connection now,
	// off the clock of the next refresh, which is likely to get it again.
	b.Queue(genericPlansSQL)
	none := []string{}
	b.Queue(strings.Replace(relationsSQL, "/*scope*/", relScope, 1), schemas, none, none)
	b.Queue(strings.Replace(columnsSQL, "/*scope*/", relScope, 1), schemas, none, none)
	b.Queue(fkScopedSQL, none, none)
	b.Queue(viewDepsScopedSQL, schemas, none, none)
	b.Queue(scopeBasesSQL, none, none)
	return finish(ctx, tx, b, s, &fks, &views, &bases, nil, nil, false, nil)
}

type fkRow struct {
	from, to    QI
	name        string
	cols, fcols []string
	unique      bool
}

// finish derives relationships once the batch has run: all of them on a
// full load, only those around the scope on a refresh (refreshFrom).
func finish(ctx context.Context, tx pgx.Tx, b *pgx.Batch, s *Snapshot, fks *[]fkRow, views *[]viewDep, bases *[]QI, old *Snapshot, changed []QI, functions bool, named map[QI]uint32) (*Snapshot, error) {
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("schema cache: %w", err)
	}
	if old == nil || functions {
		s.indexFunctions()
	}
	if old != nil {
		if renamed(old, changed, named) {
			return nil, ErrFullLoad
		}
		return s.refreshFrom(old, changed, *fks, *views, *bases, functions), nil
	}
	s.viewDeps, s.viewsOver = map[QI][]viewDep{}, map[QI][]viewDep{}
	s.addViewDeps(*views, nil)
	d := &deriver{s: s}
	var base []*Relationship
	for _, f := range *fks {
		base = append(base, d.addForeignKey(f)...)
	}
	d.addViewRelationships(base)
	d.dropUnexposed(slices.Collect(maps.Keys(s.Relationships)))
	d.addJunctions(slices.Collect(maps.Keys(s.Relationships)))
	d.addComputedRelationships(s.relFns)
	return s.Finalize(), nil
}

// ErrFullLoad tells a Refresh caller that the change can't be derived
// incrementally (a relation was renamed: its event names only the new
// name); a full load is needed.
var ErrFullLoad = errors.New("schema cache: change needs a full load")

// renamed reports whether a changed name (named: its oid, in any schema)
// is an old relation under another name: renamed, or moved to another
// schema, possibly out of the exposed ones (its event names only where it
// went). Only names whose oid the old snapshot does not hold there (a
// create, a rename, a move) cost a scan.
func renamed(old *Snapshot, changed []QI, named map[QI]uint32) bool {
	for _, qi := range changed {
		oid, ok := named[qi]
		if !ok {
			continue // gone
		}
		if r := old.Relations[qi]; r != nil && r.oid == oid {
			continue
		}
		for oqi, or := range old.Relations {
			if or.oid == oid && oqi != qi {
				return true
			}
		}
	}
	return false
}

// refreshFrom completes a refresh. The scope is the changed relations and
// the tables their views read (bases, from scopeBasesSQL); the foreign keys
// touching it were re-read. Every old relationship that depends on the
// scope is dropped and derived anew; the old snapshot's dependents index
// says which lists hold one, so the rest are shared untouched.
func (s *Snapshot) refreshFrom(old *Snapshot, changed []QI, fks []fkRow, views []viewDep, bases []QI, functions bool) *Snapshot {
	scope := map[QI]bool{}
	for _, qi := range changed {
		scope[qi] = true
	}
	for _, qi := range bases {
		scope[qi] = true
	}

	s.viewDeps, s.viewsOver = old.viewDeps, old.viewsOver
	stale := len(views) > 0
	for _, qi := range changed {
		_, had := old.viewDeps[qi]
		stale = stale || had
	}
	if stale {
		s.viewDeps, s.viewsOver = maps.Clone(old.viewDeps), maps.Clone(old.viewsOver)
		if s.viewDeps == nil {
			s.viewDeps, s.viewsOver = map[QI][]viewDep{}, map[QI][]viewDep{}
		}
		owned := map[QI]bool{}
		for _, qi := range changed {
			for _, d := range old.viewDeps[qi] {
				over := slices.DeleteFunc(slices.Clone(s.viewsOver[d.base]), func(o viewDep) bool { return o.view == qi })
				if len(over) == 0 {
					delete(s.viewsOver, d.base)
				} else {
					s.viewsOver[d.base] = over
				}
				owned[d.base] = true
			}
			delete(s.viewDeps, qi)
		}
		s.addViewDeps(views, owned)
	}

	d := &deriver{s: s, old: old.Relationships, delta: map[QI][]*Relationship{}, fresh: map[*Relationship]bool{}}
	cand := map[QI]bool{}
	for qi := range scope {
		cand[qi] = true
		for _, k := range old.dependents.get(qi) {
			cand[k] = true
		}
	}
	if functions {
		for _, f := range old.relFns {
			cand[*f.RowArg] = true
		}
	}
	for k := range cand {
		rs, ok := old.Relationships[k]
		if !ok {
			continue
		}
		kept := make([]*Relationship, 0, len(rs))
		for _, r := range rs {
			if !r.dependsOn(scope) && (r.Computed == nil || !functions) {
				kept = append(kept, r)
			}
		}
		if len(kept) < len(rs) {
			d.set(k, kept)
		}
	}

	var base []*Relationship
	for _, f := range fks {
		base = append(base, d.addForeignKey(f)...)
	}
	d.addViewRelationships(base)
	// Untouched lists lose nothing here: their relationships' ends are
	// outside the scope, so whether those are exposed has not changed.
	d.dropUnexposed(slices.Collect(maps.Keys(d.delta)))
	junctions := map[QI]bool{}
	for r := range d.fresh {
		if r.Cardinality == ManyToOne {
			junctions[r.Table] = true
		}
	}
	d.addJunctions(slices.Collect(maps.Keys(junctions)))
	fns := s.relFns
	if !functions {
		fns = nil
		for _, f := range s.relFns {
			if scope[*f.RowArg] || scope[f.ReturnType] {
				fns = append(fns, f)
			}
		}
	}
	d.addComputedRelationships(fns)

	// Most DDL (a column added or dropped) derives the very relationships
	// it dropped: then the old map is shared, not copied.
	touched := map[QI]bool{}
	s.Relationships = old.Relationships
	for k, rs := range d.delta {
		if !sameRelationships(old.Relationships[k], rs) {
			s.Relationships = maps.Clone(old.Relationships)
			if s.Relationships == nil {
				s.Relationships = map[QI][]*Relationship{}
			}
			for k, rs := range d.delta {
				touched[k] = true
				if rs == nil {
					delete(s.Relationships, k)
				} else {
					s.Relationships[k] = rs
				}
			}
			break
		}
	}
	return s.finalizeFrom(old, changed, touched, functions)
}

// sameRelationships reports whether two lists hold equal relationships, in
// any order. It may say no to equal lists (ties in the order it sorts by),
// which only costs a copy.
func sameRelationships(a, b []*Relationship) bool {
	if len(a) != len(b) {
		return false
	}
	key := func(r *Relationship) string {
		return r.Table.String() + " " + r.ForeignTable.String() + " " + r.Constraint + " " + string(r.Cardinality)
	}
	byKey := func(x, y *Relationship) int { return strings.Compare(key(x), key(y)) }
	a, b = slices.SortedFunc(slices.Values(a), byKey), slices.SortedFunc(slices.Values(b), byKey)
	for i := range a {
		if !a[i].equal(b[i]) {
			return false
		}
	}
	return true
}

func (r *Relationship) equal(o *Relationship) bool {
	eqQI := func(x, y *QI) bool { return x == y || x != nil && y != nil && *x == *y }
	eqJunction := func(x, y *Junction) bool {
		return x == y || x != nil && y != nil && x.Table == y.Table && x.Constraint1 == y.Constraint1 &&
			x.Constraint2 == y.Constraint2 && slices.Equal(x.SourceColumns, y.SourceColumns) &&
			slices.Equal(x.SourceJunctionColumns, y.SourceJunctionColumns) &&
			slices.Equal(x.TargetJunctionColumns, y.TargetJunctionColumns) && slices.Equal(x.TargetColumns, y.TargetColumns)
	}
	return r.Table == o.Table && r.ForeignTable == o.ForeignTable && r.Cardinality == o.Cardinality &&
		r.Constraint == o.Constraint && slices.Equal(r.Columns, o.Columns) && slices.Equal(r.ForeignColumns, o.ForeignColumns) &&
		eqJunction(r.Junction, o.Junction) && r.IsSelf == o.IsSelf && eqQI(r.Computed, o.Computed) && r.ToOne == o.ToOne &&
		slices.Equal(r.deps, o.deps)
}

// indexFunctions notes, for refreshes, the functions that may become
// computed relationships and the relations whose rows functions return.
func (s *Snapshot) indexFunctions() {
	s.relFns, s.fnReturns = nil, map[QI]bool{}
	for _, fs := range s.Functions {
		for _, f := range fs {
			if f.ReturnsRelation {
				s.fnReturns[f.ReturnType] = true
			}
			if f.RowArg != nil && f.ReturnsRelation && len(f.Params) == 1 && f.ReturnKind == ReturnsComposite {
				s.relFns = append(s.relFns, f)
			}
		}
	}
}

// addViewDeps indexes view rows. owned is nil on a full load; on a refresh
// it names the viewsOver lists already copied from the old snapshot.
func (s *Snapshot) addViewDeps(rows []viewDep, owned map[QI]bool) {
	for _, d := range rows {
		s.viewDeps[d.view] = append(s.viewDeps[d.view], d)
		v := s.Relations[d.view]
		if v == nil {
			continue
		}
		var cols, as []string
		for i, c := range d.as {
			if v.Column(c) != nil {
				cols, as = append(cols, d.cols[i]), append(as, c)
			}
		}
		d.cols, d.as = cols, as
		over := s.viewsOver[d.base]
		if owned != nil && !owned[d.base] {
			over = slices.Clip(over)
			owned[d.base] = true
		}
		s.viewsOver[d.base] = append(over, d)
	}
}

// deriver adds relationships to a snapshot being built: to its
// Relationships on a full load; on a refresh, to lists of its own (delta)
// over the old snapshot's map, which refreshFrom then shares or copies.
type deriver struct {
	s *Snapshot
	// old, delta and fresh are nil on a full load, where every
	// relationship is fresh.
	old   map[QI][]*Relationship
	delta map[QI][]*Relationship // the lists this load changed; nil: none left
	fresh map[*Relationship]bool // derived by this load
}

func (d *deriver) isFresh(r *Relationship) bool { return d.fresh == nil || d.fresh[r] }

func (d *deriver) list(k QI) []*Relationship {
	if d.delta == nil {
		return d.s.Relationships[k]
	}
	if rs, ok := d.delta[k]; ok {
		return rs
	}
	return d.old[k]
}

// set replaces the list of k; rs must not be shared with the old snapshot.
func (d *deriver) set(k QI, rs []*Relationship) {
	switch {
	case d.delta != nil && len(rs) == 0:
		d.delta[k] = nil
	case d.delta != nil:
		d.delta[k] = rs
	case len(rs) == 0:
		delete(d.s.Relationships, k)
	default:
		d.s.Relationships[k] = rs
	}
}

func (d *deriver) add(k QI, r *Relationship) {
	rs := d.list(k)
	if d.delta != nil {
		if _, own := d.delta[k]; !own {
			rs = slices.Clip(rs) // the old snapshot's: append copies
		}
		d.fresh[r] = true
	}
	d.set(k, append(rs, r))
}

// addComputedRelationships derives relationships from functions that take
// one relation's row type and return rows of another (fs: relFns, or those
// of them a refresh re-derives).
func (d *deriver) addComputedRelationships(fs []*Function) {
	s := d.s
	for _, f := range fs {
		if s.Relations[*f.RowArg] == nil || s.Relations[f.ReturnType] == nil {
			continue
		}
		fn := QI{f.Schema, f.Name}
		toOne := !f.ReturnsSet || f.Rows == 1
		card := OneToMany
		if toOne {
			card = ManyToOne
		}
		d.add(*f.RowArg, &Relationship{
			Table: *f.RowArg, ForeignTable: f.ReturnType, Cardinality: card, Constraint: f.Name,
			IsSelf: *f.RowArg == f.ReturnType, Computed: &fn, ToOne: toOne,
			deps: []QI{*f.RowArg, f.ReturnType},
		})
	}
}

// addForeignKey records both directions of a foreign key.
func (d *deriver) addForeignKey(f fkRow) []*Relationship {
	self := f.from == f.to
	deps := []QI{f.from, f.to}
	fwd := &Relationship{Table: f.from, ForeignTable: f.to, Cardinality: ManyToOne, Constraint: f.name,
		Columns: f.cols, ForeignColumns: f.fcols, IsSelf: self, ToOne: true, deps: deps}
	rev := &Relationship{Table: f.to, ForeignTable: f.from, Cardinality: OneToMany, Constraint: f.name,
		Columns: f.fcols, ForeignColumns: f.cols, IsSelf: self, deps: deps}
	if f.unique {
		fwd.Cardinality, rev.Cardinality, rev.ToOne = OneToOne, OneToOne, true
	}
	d.add(f.from, fwd)
	d.add(f.to, rev)
	return []*Relationship{fwd, rev}
}

// addJunctions derives many-to-many relationships: a table with foreign
// keys to two tables whose columns are all part of its primary key. keys
// are the candidate junction tables; a pair yields a relationship only if
// one of its legs is fresh (the others' are kept from the old snapshot).
func (d *deriver) addJunctions(keys []QI) {
	s := d.s
	for _, jqi := range keys {
		j := s.Relations[jqi]
		if j == nil {
			continue
		}
		pk := j.PrimaryKey
		if len(pk) == 0 && (j.Kind == KindView || j.Kind == KindMatView) {
			pk = s.viewPrimaryKey(jqi)
		}
		if len(pk) == 0 {
			continue
		}
		var m2o []*Relationship
		for _, r := range d.list(jqi) {
			if r.Cardinality == ManyToOne && r.Computed == nil && r.Table == jqi && subset(r.Columns, pk) {
				m2o = append(m2o, r)
			}
		}
		for _, a := range m2o {
			for _, b := range m2o {
				if a == b || a.Constraint == b.Constraint || (!d.isFresh(a) && !d.isFresh(b)) {
					continue
				}
				m := &Relationship{
					Table: a.ForeignTable, ForeignTable: b.ForeignTable, Cardinality: ManyToMany,
					Constraint: a.Constraint + "," + b.Constraint, IsSelf: a.ForeignTable == b.ForeignTable,
					Junction: &Junction{Table: jqi, Constraint1: a.Constraint, Constraint2: b.Constraint,
						SourceColumns: a.ForeignColumns, SourceJunctionColumns: a.Columns,
						TargetJunctionColumns: b.Columns, TargetColumns: b.ForeignColumns},
				}
				m.deps = append(append([]QI{jqi}, a.deps...), b.deps...)
				d.add(a.ForeignTable, m)
			}
		}
	}
}

func subset(xs, of []string) bool {
	for _, x := range xs {
		found := false
		for _, y := range of {
			found = found || x == y
		}
		if !found {
			return false
		}
	}
	return true
}

func scanFunction(rows pgx.Rows) (*Function, error) {
	f := &Function{}
	var names, types, modes, config []string
	var ndefaults int
	var variadic bool
	var typtype, vol string
	var retNames, retTypes, rowArg []string
	var retIsRelation bool
	if err := rows.Scan(&f.Schema, &f.Name, &f.Description, &names, &types, &modes, &ndefaults, &variadic,
		&f.ReturnType.Schema, &f.ReturnType.Name, &typtype, &f.ReturnsSet, &vol, &config, &f.IsProcedure, &f.Rows,
		&retNames, &retTypes, &rowArg, &retIsRelation, &f.Binary); err != nil {
		return nil, err
	}
	if typtype == "d" && IsMediaType(f.ReturnType.Name) {
		f.MediaType = f.ReturnType.Name
	}
	if len(rowArg) == 2 {
		f.RowArg = &QI{rowArg[0], rowArg[1]}
	}
	f.ReturnsRelation = retIsRelation
	var in []Param
	var out []*Column
	for i, t := range types {
		mode := "i"
		if i < len(modes) {
			mode = modes[i]
		}
		if mode == "o" || mode == "t" || mode == "b" {
			name := ""
			if i < len(names) {
				name = names[i]
			}
			out = append(out, &Column{Name: name, Position: len(out) + 1, Type: t, Nullable: true})
		}
		if mode == "o" || mode == "t" || mode == "b" {
			// INOUT parameters are results too: the result is a row.
			f.ReturnsTable = true
		}
		if mode == "o" || mode == "t" {
			continue
		}
		p := Param{Type: t, Variadic: mode == "v"}
		if i < len(names) {
			p.Name = names[i]
		}
		in = append(in, p)
	}
	for i := len(in) - ndefaults; i < len(in); i++ {
		if i >= 0 {
			in[i].HasDefault = true
		}
	}
	f.Params = in
	if !f.ReturnsTable {
		out = nil
		for i, n := range retNames {
			out = append(out, &Column{Name: n, Position: i + 1, Type: retTypes[i], Nullable: true})
		}
	}
	if len(out) > 0 {
		f.Columns = out
	}
	switch {
	case f.ReturnType.Name == "void":
		f.ReturnKind = ReturnsVoid
	// A bare record (no OUT parameters) has no columns the catalog knows:
	// PostgREST treats it as a value, whose JSON names its own fields.
	case typtype == "c" || f.ReturnsTable:
		f.ReturnKind = ReturnsComposite
	default:
		f.ReturnKind = ReturnsScalar
	}
	f.Volatility = map[string]Volatility{"i": Immutable, "s": Stable, "v": Volatile}[vol]
	f.Settings = map[string]string{}
	for _, kv := range config {
		for i := 0; i < len(kv); i++ {
			if kv[i] == '=' {
				f.Settings[kv[:i]] = kv[i+1:]
				break
			}
		}
	}
	return f, nil
}

// Dump renders the snapshot as stable JSON (--dump-schema, /schema_cache).
func (s *Snapshot) Dump() ([]byte, error) {
	rels := make([]*Relation, 0, len(s.Relations))
	for _, r := range s.Relations {
		rels = append(rels, r)
	}
	sort.Slice(rels, func(i, j int) bool { return rels[i].QI().String() < rels[j].QI().String() })
	var rships []*Relationship
	for _, rs := range s.Relationships {
		rships = append(rships, rs...)
	}
	sort.Slice(rships, func(i, j int) bool {
		a, b := rships[i], rships[j]
		if a.Table != b.Table {
			return a.Table.String() < b.Table.String()
		}
		if a.ForeignTable != b.ForeignTable {
			return a.ForeignTable.String() < b.ForeignTable.String()
		}
		return a.Constraint+string(a.Cardinality) < b.Constraint+string(b.Cardinality)
	})
	var fns []*Function
	for _, fs := range s.Functions {
		fns = append(fns, fs...)
	}
	sort.Slice(fns, func(i, j int) bool {
		a, b := fns[i], fns[j]
		if a.Schema+"."+a.Name != b.Schema+"."+b.Name {
			return a.Schema+"."+a.Name < b.Schema+"."+b.Name
		}
		return len(a.Params) < len(b.Params)
	})
	return json.MarshalIndent(map[string]any{
		"version": s.Version, "schemas": s.Schemas, "relations": rels,
		"relationships": rships, "functions": fns,
	}, "", "  ")
}

type viewDep struct {
	view, base QI
	// cols are base columns the view shows, as[i] the view's name for cols[i]
	// (a base column shown twice appears twice).
	cols, as []string
	// basePK is the base relation's primary key.
	basePK []string
}

// viewNames maps base columns to the view's names for them, one list per
// way the view shows them all (a column shown under two names gives two);
// none when the view doesn't show them all.
func (v viewDep) viewNames(cols []string) [][]string {
	out := [][]string{{}}
	for _, c := range cols {
		var next [][]string
		var names []string
		for j, bc := range v.cols {
			if bc != c || slices.Contains(names, v.as[j]) {
				continue // nested queries of the view may repeat an entry
			}
			names = append(names, v.as[j])
			for _, prefix := range out {
				next = append(next, append(slices.Clip(prefix), v.as[j]))
			}
		}
		if len(next) == 0 {
			return nil
		}
		out = next
	}
	return out
}

// viewPrimaryKey is a view's key as PostgREST infers it: the names under
// which it shows every primary key column of a relation it reads.
func (s *Snapshot) viewPrimaryKey(view QI) []string {
	var pk []string
	for _, d := range s.viewDeps[view] {
		sets := d.viewNames(d.basePK)
		if len(d.basePK) == 0 || len(sets) == 0 {
			continue
		}
		for _, set := range sets {
			pk = append(pk, set...)
		}
	}
	return pk
}

// viewEnd is a relationship end: a relation, its key columns, and the
// relations a view end reads them through.
type viewEnd struct {
	qi   QI
	cols []string
	via  []QI
}

// viewEnds is e and the ends of the views over it, also views over those
// views, as PostgREST traces a view's columns down to the table.
func viewEnds(over map[QI][]viewDep, e viewEnd) []viewEnd {
	ends := []viewEnd{e}
	seen := map[QI]bool{e.qi: true}
	for i := 0; i < len(ends); i++ {
		for _, v := range over[ends[i].qi] {
			if seen[v.view] {
				continue
			}
			seen[v.view] = true
			for _, cols := range v.viewNames(ends[i].cols) {
				ends = append(ends, viewEnd{qi: v.view, cols: cols, via: append(slices.Clip(ends[i].via), v.view)})
			}
		}
	}
	ends[0].via = []QI{e.qi}
	return ends
}

// addViewRelationships gives a view the relationships of the base table it
// reads, when the view exposes every key column under the same name; both
// ends may be views. base are the foreign-key relationships derived by
// this load.
func (d *deriver) addViewRelationships(base []*Relationship) {
	over := d.s.viewsOver
	if len(over) == 0 {
		return
	}
	for _, r := range base {
		froms := viewEnds(over, viewEnd{qi: r.Table, cols: r.Columns})
		tos := viewEnds(over, viewEnd{qi: r.ForeignTable, cols: r.ForeignColumns})
		for i, from := range froms {
			for j, to := range tos {
				if i == 0 && j == 0 {
					continue
				}
				c := *r
				c.Table, c.ForeignTable = from.qi, to.qi
				c.Columns, c.ForeignColumns = from.cols, to.cols
				c.IsSelf = from.qi == to.qi
				c.deps = append(append(append([]QI{}, r.deps...), from.via...), to.via...)
				d.add(from.qi, &c)
			}
		}
	}
}

// dropUnexposed removes, from the lists of keys, relationships with an end
// outside the exposed schemas (they were loaded so views over private
// tables could inherit them).
func (d *deriver) dropUnexposed(keys []QI) {
	s := d.s
	for _, k := range keys {
		rs := d.list(k)
		if len(rs) == 0 {
			continue
		}
		if s.Relations[k] == nil {
			d.set(k, nil)
			continue
		}
		n := 0
		for _, r := range rs {
			if s.Relations[r.ForeignTable] != nil {
				n++
			}
		}
		if n == len(rs) {
			continue
		}
		kept := make([]*Relationship, 0, n)
		for _, r := range rs {
			if s.Relations[r.ForeignTable] != nil {
				kept = append(kept, r)
			}
		}
		d.set(k, kept)
	}
}
