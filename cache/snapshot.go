// Package cache owns the schema cache: introspection of the exposed schemas
// into an immutable Snapshot, and the atomic Holder requests read it from.
// A Snapshot is never mutated after it is published; a reload builds a new one.
package cache

import (
	"hash/maphash"
	"maps"
	"slices"
	"sort"
	"strings"
)

// QI is a qualified identifier (schema, name).
type QI struct {
	Schema string `json:"schema"`
	Name   string `json:"name"`
}

// String is schema.name, unquoted (for messages and map keys in dumps).
func (q QI) String() string { return q.Schema + "." + q.Name }

// RelKind is what kind of relation a table-like object is.
type RelKind string

// The relation kinds PostgREST exposes.
const (
	KindTable       RelKind = "table"
	KindView        RelKind = "view"
	KindMatView     RelKind = "materialized_view"
	KindForeign     RelKind = "foreign_table"
	KindPartitioned RelKind = "partitioned_table"
)

// Column is one column of a relation as the API sees it.
type Column struct {
	Name     string `json:"name"`
	Position int    `json:"position"`
	// Type is format_type() of the column (e.g. "character varying(20)").
	Type string `json:"type"`
	// NominalType is the type's name as written (domain name for domains),
	// BaseType the underlying type once domains are resolved.
	NominalType string   `json:"nominal_type"`
	BaseType    string   `json:"base_type"`
	Nullable    bool     `json:"nullable"`
	Default     *string  `json:"default"`
	MaxLength   *int     `json:"max_length"`
	Enum        []string `json:"enum"`
	Description *string  `json:"description"`
}

// Relation is a table, view, materialized view, foreign or partitioned
// table in an exposed schema.
type Relation struct {
	Schema      string    `json:"schema"`
	Name        string    `json:"name"`
	Kind        RelKind   `json:"kind"`
	Description *string   `json:"description"`
	Columns     []*Column `json:"columns"`
	PrimaryKey  []string  `json:"primary_key"`
	Insertable  bool      `json:"insertable"`
	Updatable   bool      `json:"updatable"`
	Deletable   bool      `json:"deletable"`

	// oid tells a rename (same oid, new name) from a new relation.
	oid uint32

	byName map[string]*Column
}

// QI is the relation's qualified name.
func (r *Relation) QI() QI { return QI{r.Schema, r.Name} }

// Column looks a column up by name; nil when absent.
func (r *Relation) Column(name string) *Column {
	if r.byName == nil { // only for relations built by hand in tests
		for _, c := range r.Columns {
			if c.Name == name {
				return c
			}
		}
		return nil
	}
	return r.byName[name]
}

// Cardinality is the shape of a relationship seen from its Table side.
type Cardinality string

// The relationship cardinalities, as PostgREST names them.
const (
	ManyToOne  Cardinality = "m2o"
	OneToMany  Cardinality = "o2m"
	OneToOne   Cardinality = "o2o"
	ManyToMany Cardinality = "m2m"
)

// Junction describes the middle table of a many-to-many relationship.
type Junction struct {
	Table QI `json:"table"`
	// Constraint1 links the junction to Relationship.Table, Constraint2 to
	// Relationship.ForeignTable.
	Constraint1 string `json:"constraint1"`
	Constraint2 string `json:"constraint2"`
	// SourceColumns (in Table) pair with SourceJunctionColumns (in junction);
	// TargetJunctionColumns (in junction) pair with TargetColumns (in ForeignTable).
	SourceColumns         []string `json:"source_columns"`
	SourceJunctionColumns []string `json:"source_junction_columns"`
	TargetJunctionColumns []string `json:"target_junction_columns"`
	TargetColumns         []string `json:"target_columns"`
}

// Relationship is directed: from Table to ForeignTable. Every foreign key
// yields two (m2o and o2m, or two o2o). Columns[i] pairs with ForeignColumns[i].
type Relationship struct {
	Table          QI          `json:"table"`
	ForeignTable   QI          `json:"foreign_table"`
	Cardinality    Cardinality `json:"cardinality"`
	Constraint     string      `json:"constraint"`
	Columns        []string    `json:"columns"`
	ForeignColumns []string    `json:"foreign_columns"`
	Junction       *Junction   `json:"junction,omitempty"`
	IsSelf         bool        `json:"is_self"`
	// Computed is set for computed relationships (a function taking the
	// table's row type and returning rows of ForeignTable).
	Computed *QI `json:"computed,omitempty"`
	// ToOne is true for m2o, o2o, and computed relationships not returning a set.
	ToOne bool `json:"to_one"`

	// deps are the relations whose change invalidates this relationship
	// (its ends, the base tables of view ends, the junction).
	deps []QI
}

func (r *Relationship) dependsOn(set map[QI]bool) bool {
	for _, d := range r.deps {
		if set[d] {
			return true
		}
	}
	return false
}

// Param is one input parameter of a function.
type Param struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	HasDefault bool   `json:"has_default"`
	Variadic   bool   `json:"variadic"`
}

// Volatility is a function's volatility class: stable and immutable
// functions run in read-only transactions.
type Volatility string

// The volatility classes.
const (
	Immutable Volatility = "immutable"
	Stable    Volatility = "stable"
	Volatile  Volatility = "volatile"
)

// ReturnKind is the shape of what a function returns.
type ReturnKind string

// The return kinds.
const (
	ReturnsScalar    ReturnKind = "scalar"
	ReturnsComposite ReturnKind = "composite"
	ReturnsVoid      ReturnKind = "void"
)

// Function is a function callable under /rpc (one overload).
type Function struct {
	Schema      string     `json:"schema"`
	Name        string     `json:"name"`
	Description *string    `json:"description"`
	Params      []Param    `json:"params"`
	ReturnType  QI         `json:"return_type"`
	ReturnKind  ReturnKind `json:"return_kind"`
	ReturnsSet  bool       `json:"returns_set"`
	// ReturnsTable is set when the function is RETURNS TABLE(...) or has OUT params.
	ReturnsTable bool              `json:"returns_table"`
	Volatility   Volatility        `json:"volatility"`
	Settings     map[string]string `json:"settings"`
	IsProcedure  bool              `json:"is_procedure"`
	// Rows is the planner's row estimate (ROWS n); 1 makes a set-returning
	// computed relationship to-one.
	Rows float32 `json:"rows"`
	// Columns are the result columns of a composite result (RETURNS TABLE,
	// OUT parameters, a composite type or a relation's row type).
	Columns []*Column `json:"columns,omitempty"`
	// ReturnsRelation is set when the result is the row type of a table or
	// view, so filters, embedding and computed fields work as on that relation.
	ReturnsRelation bool `json:"returns_relation"`
	// RowArg is the relation whose row type the first parameter takes:
	// a computed field or computed relationship of that relation.
	RowArg *QI `json:"row_arg,omitempty"`
	// MediaType is set when the function returns a domain named after a
	// media type: it is that media type's handler; Binary when over bytea.
	MediaType string `json:"media_type,omitempty"`
	Binary    bool   `json:"binary,omitempty"`
}

// Signature renders the function as PostgREST names it in errors:
// schema.name(a => type, b => type).
func (f *Function) Signature() string {
	var ps []string
	for _, p := range f.Params {
		ps = append(ps, p.Name+" => "+p.Type)
	}
	return f.Schema + "." + f.Name + "(" + strings.Join(ps, ", ") + ")"
}

// MediaHandler is an aggregate that renders the rows of a relation (of any
// relation when Relation is the zero QI: its input is anyelement) as the
// media type its result domain is named after.
type MediaHandler struct {
	MediaType string `json:"media_type"`
	Relation  QI     `json:"relation"`
	Function  QI     `json:"function"`
	// Binary is set when the domain is over bytea.
	Binary bool `json:"binary"`
}

// Snapshot is the immutable schema cache. Version is the id of the last DDL
// event reflected (the same number on every instance serving the database),
// or a local counter when the event log is absent.
type Snapshot struct {
	Version       int64                  `json:"version"`
	Schemas       []string               `json:"schemas"`
	Relations     map[QI]*Relation       `json:"-"`
	Functions     map[QI][]*Function     `json:"-"`
	Relationships map[QI][]*Relationship `json:"-"`
	MediaHandlers []MediaHandler         `json:"media_handlers"`
	Timezones     map[string]bool        `json:"-"`
	// Representations are the domain representations (casts defined in
	// the database), keyed by the domain's Column.Type.
	Representations map[string]*Representation `json:"representations"`
	// PostGIS is the schema holding st_asgeojson(record), "" without PostGIS.
	PostGIS string `json:"postgis"`
	// PGVersion is server_version_num.
	PGVersion int `json:"pg_version"`

	relNames map[string][]string // schema -> sorted relation names, for hints
	computed map[QI][]*Function  // relation -> its computed fields

	// What an incremental refresh needs to touch only what changed:
	viewDeps   map[QI][]viewDep // view -> the base columns its query reads
	viewsOver  map[QI][]viewDep // base -> views over it, cols cut to the view's columns
	relFns     []*Function      // functions shaped like a computed relationship
	fnReturns  map[QI]bool      // relations whose row type a function returns
	dependents depIndex         // relation -> Relationships keys depending on it
	// LSN is the WAL position when the snapshot was loaded (0: unknown); a
	// replica that has replayed that far has every change it reflects.
	LSN LSN `json:"-"`
}

// depShards splits the dependents index so that a refresh copies the few
// shards it changes instead of one map as large as the schema.
const depShards = 64

// depIndex maps a relation d to the keys of Relationships (other than d)
// holding a relationship whose deps include d: what a change of d
// invalidates besides Relationships[d] itself.
type depIndex [depShards]map[QI][]QI

var depSeed = maphash.MakeSeed()

func depShard(q QI) int { return int(maphash.Comparable(depSeed, q) % depShards) }

func (x *depIndex) get(d QI) []QI { return x[depShard(d)][d] }

// set replaces d's entry; own records the shards already copied from the
// previous snapshot, which still shares the others.
func (x *depIndex) set(d QI, keys []QI, own *[depShards]bool) {
	i := depShard(d)
	if !own[i] {
		x[i] = maps.Clone(x[i])
		if x[i] == nil {
			x[i] = map[QI][]QI{}
		}
		own[i] = true
	}
	if len(keys) == 0 {
		delete(x[i], d)
	} else {
		x[i][d] = keys
	}
}

// relDeps lists the relations other than k that the relationships of k depend on.
func relDeps(k QI, rs []*Relationship) map[QI]bool {
	ds := map[QI]bool{}
	for _, r := range rs {
		for _, d := range r.deps {
			if d != k {
				ds[d] = true
			}
		}
	}
	return ds
}

// Finalize builds every derived index. It must run before the snapshot is
// published so that nothing is computed lazily on the request path.
func (s *Snapshot) Finalize() *Snapshot {
	s.relNames = map[string][]string{}
	for qi, r := range s.Relations {
		// A relation carried over from an older snapshot is shared with
		// requests still reading it: it is complete already, never rewrite it.
		if r.byName == nil {
			r.byName = make(map[string]*Column, len(r.Columns))
			for _, c := range r.Columns {
				r.byName[c.Name] = c
			}
		}
		s.relNames[qi.Schema] = append(s.relNames[qi.Schema], qi.Name)
	}
	for _, names := range s.relNames {
		sort.Strings(names)
	}
	s.indexComputed()
	s.dependents = depIndex{}
	var own [depShards]bool
	for k, rs := range s.Relationships {
		for d := range relDeps(k, rs) {
			s.dependents.set(d, append(s.dependents.get(d), k), &own)
		}
	}
	return s
}

func (s *Snapshot) indexComputed() {
	s.computed = map[QI][]*Function{}
	for _, fs := range s.Functions {
		for _, f := range fs {
			if f.RowArg != nil && len(f.Params) == 1 && f.ReturnKind != ReturnsVoid && s.Relations[*f.RowArg] != nil {
				s.computed[*f.RowArg] = append(s.computed[*f.RowArg], f)
			}
		}
	}
}

// finalizeFrom is Finalize for a snapshot refreshed from old: it patches
// old's indexes for the changed relations and the touched Relationships
// keys instead of rebuilding them, copying whatever it changes.
func (s *Snapshot) finalizeFrom(old *Snapshot, changed []QI, touched map[QI]bool, functions bool) *Snapshot {
	s.relNames = old.relNames
	copied := map[string]bool{}
	existence := false
	for _, q := range changed {
		r, is := s.Relations[q]
		if is && r.byName == nil {
			r.byName = make(map[string]*Column, len(r.Columns))
			for _, c := range r.Columns {
				r.byName[c.Name] = c
			}
		}
		if _, was := old.Relations[q]; was == is {
			continue
		}
		existence = true
		if len(copied) == 0 {
			s.relNames = maps.Clone(old.relNames)
			if s.relNames == nil {
				s.relNames = map[string][]string{}
			}
		}
		names := s.relNames[q.Schema]
		if !copied[q.Schema] {
			names = slices.Clone(names)
			copied[q.Schema] = true
		}
		i, found := slices.BinarySearch(names, q.Name)
		switch {
		case is && !found:
			names = slices.Insert(names, i, q.Name)
		case !is && found:
			names = slices.Delete(names, i, i+1)
		}
		if len(names) == 0 {
			delete(s.relNames, q.Schema)
		} else {
			s.relNames[q.Schema] = names
		}
	}
	if functions || existence {
		s.indexComputed()
	} else {
		s.computed = old.computed
	}
	s.dependents = old.dependents
	var own [depShards]bool
	for k := range touched {
		before, after := relDeps(k, old.Relationships[k]), relDeps(k, s.Relationships[k])
		for d := range before {
			if !after[d] {
				s.dependents.set(d, slices.DeleteFunc(slices.Clone(s.dependents.get(d)), func(x QI) bool { return x == k }), &own)
			}
		}
		for d := range after {
			if !before[d] {
				s.dependents.set(d, append(slices.Clip(s.dependents.get(d)), k), &own)
			}
		}
	}
	return s
}

// ComputedFields lists the functions usable as virtual columns of a relation
// (a single parameter of its row type).
func (s *Snapshot) ComputedFields(qi QI) []*Function { return s.computed[qi] }

// Relation looks up a relation; nil when absent.
func (s *Snapshot) Relation(schema, name string) *Relation {
	return s.Relations[QI{schema, name}]
}

// RelationNames lists the relations of a schema, sorted.
func (s *Snapshot) RelationNames(schema string) []string { return s.relNames[schema] }

// RelationshipsFrom lists relationships whose Table is qi.
func (s *Snapshot) RelationshipsFrom(qi QI) []*Relationship { return s.Relationships[qi] }

// KeyColumns is a relation's primary key; a view's is, as in PostgREST,
// the key columns of every base relation it shows in full, under the
// view's names and in the view's column order.
func (s *Snapshot) KeyColumns(r *Relation) []string {
	return s.keyColumns(r, 0)
}

func (s *Snapshot) keyColumns(r *Relation, depth int) []string {
	if len(r.PrimaryKey) > 0 || r.Kind != KindView || depth > 8 {
		return r.PrimaryKey
	}
	key := map[string]bool{}
	for _, d := range s.viewDeps[r.QI()] {
		base := s.Relations[d.base]
		if base == nil {
			continue
		}
		pk := s.keyColumns(base, depth+1)
		var names []string
		for _, c := range pk {
			if i := slices.Index(d.cols, c); i >= 0 {
				names = append(names, d.as[i])
			}
		}
		if len(pk) > 0 && len(names) == len(pk) { // every key column shown
			for _, n := range names {
				key[n] = true
			}
		}
	}
	var out []string
	for _, c := range r.Columns {
		if key[c.Name] {
			out = append(out, c.Name)
		}
	}
	return out
}
