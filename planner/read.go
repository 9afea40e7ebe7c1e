package planner

import (
	"regexp"

	"github.com/jackc/pgx/v5"
	"github.com/pgrest/pgrest/apierr"
	"github.com/pgrest/pgrest/cache"
	"github.com/pgrest/pgrest/request"
)

func ident(s string) string { return pgx.Identifier{s}.Sanitize() }

func hasAggregate(items []request.SelectItem) bool {
	for _, it := range items {
		if it.Aggregate != "" || (it.Embed != nil && hasAggregate(it.Embed.Select)) {
			return true
		}
	}
	return false
}

// outputName is a column's key in the response: its alias, else the last
// object key of its path (indexes name nothing), else its name.
func outputName(it *request.SelectItem) string {
	if it.Alias != "" {
		return it.Alias
	}
	// the last key of a path; for an array index the last key before it,
	// else the column's name
	for i := len(it.Field.Path) - 1; i >= 0; i-- {
		if op := it.Field.Path[i]; !op.IsIndex() {
			return op.Key
		}
	}
	return it.Field.Name
}

var typeName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*( [A-Za-z_][A-Za-z0-9_]*)?(\[\])?$`)

var typeAliases = map[string]string{
	"int": "int4", "integer": "int4", "bigint": "int8", "smallint": "int2", "real": "float4",
	"double precision": "float8", "boolean": "bool", "character varying": "varchar", "decimal": "numeric",
	"character": "bpchar", "char": "bpchar", "timestamp with time zone": "timestamptz",
}

func validCast(typ string) bool { return typ == "" || typeName.MatchString(typ) }

// notFound is PGRST205 with a "Perhaps you meant" hint.
func notFound(snap *cache.Snapshot, schema, name string) error {
	return apierr.TableNotFound(schema, name, closest(snap.RelationNames(schema), name))
}

// readPlan is a resolved read: of a relation (GET/HEAD) or of a call's
// result. It is value-free, like every node under it.
type readPlan struct {
	root    *readNode
	media   *media
	count   string // Prefer: count
	warning string
	call    *callNode // nil for a relation
}

// compile resolves a read or a call into its plan tree and renders it.
func compile(req *request.Request, snap *cache.Snapshot, opts Options, vals *values, cl *call) (*Plan, error) {
	b := &builder{req: req, snap: snap, opts: opts, vals: vals}
	switch {
	case req.Action == request.ActRead:
		rel := snap.Relation(req.Schema, req.Resource)
		if rel == nil {
			return nil, notFound(snap, req.Schema, req.Resource)
		}
		rp, err := b.read(rel, nil)
		if err != nil {
			return nil, err
		}
		r := &renderer{snap: snap, opts: opts}
		// As PostgREST writes it: the table by its qualified name, which
		// leaves the table's own name to refer to it, and a star as
		// "schema"."table".*; the rows come from the pgrst_source CTE.
		from := ident(rel.Schema) + "." + ident(rel.Name)
		if rp.root.alias == rel.Name {
			r.rootAlias, r.rootStar = rp.root.alias, from+".*"
		} else {
			from += " AS " + ident(rp.root.alias)
		}
		return r.read(rp, from, ""), nil
	case req.Action == request.ActInvoke && cl != nil:
		cp, err := b.call(cl)
		if err != nil {
			return nil, err
		}
		r := &renderer{snap: snap, opts: opts}
		return r.call(cp), nil
	}
	return nil, apierr.NotImplemented("this kind of request")
}

// read resolves a read of rel's rows: a table or view, or a function's
// result (fn set), whose rows may be scalars or a single row.
func (b *builder) read(rel *cache.Relation, fn *cache.Function) (*readPlan, error) {
	req := b.req
	m, err := negotiate(req, b.opts, offerFor(b.snap, req, rel, fn))
	if err != nil {
		return nil, err
	}
	if !b.opts.AggregatesEnabled && hasAggregate(req.Select) {
		return nil, apierr.AggregatesNotAllowed()
	}
	m.scalar = fn != nil && fn.ReturnKind != cache.ReturnsComposite
	m.unwrap = fn != nil && !fn.ReturnsSet
	root, err := b.readTree(rel, req.Select, req.Resource)
	if err != nil {
		return nil, err
	}
	return &readPlan{root: root, media: m, count: req.Prefs.Count, warning: b.legacyWarning(req.Select)}, nil
}
