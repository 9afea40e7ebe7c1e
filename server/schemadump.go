package server

import (
	"bytes"
	"encoding/json"
	"sort"

	"github.com/pgrest/pgrest/cache"
)

// SchemaCacheJSON renders a snapshot in the shape of v16's schema cache
// (--dump-schema, the admin /schema_cache): dbTables, dbRelationships,
// dbRoutines, dbRepresentations, dbMediaHandlers and dbTimezones, each map
// as a list of [key, value] pairs, sorted so that two dumps of the same
// database compare equal. Operators diff these dumps and read them with
// jq, so the names are v16's; pgrest-only details are left out, and so
// are domain representations and media handlers (dbRepresentations and
// dbMediaHandlers stay empty: v16 tags them with its Haskell constructors).
func SchemaCacheJSON(s *cache.Snapshot) []byte {
	var b bytes.Buffer
	b.WriteString(`{"dbTables":`)
	writeTables(&b, s)
	b.WriteString(`,"dbRelationships":`)
	writeRelationships(&b, s)
	b.WriteString(`,"dbRoutines":`)
	writeRoutines(&b, s)
	b.WriteString(`,"dbRepresentations":[],"dbMediaHandlers":[],"dbTimezones":`)
	tz := make([]string, 0, len(s.Timezones))
	for n := range s.Timezones {
		tz = append(tz, n)
	}
	sort.Strings(tz)
	writeJSON(&b, tz)
	b.WriteByte('}')
	return b.Bytes()
}

// writeJSON appends v's JSON; the values given are plain data that always
// encode.
func writeJSON(b *bytes.Buffer, v any) {
	out, _ := json.Marshal(v)
	b.Write(out)
}

type qiJSON struct {
	Name   string `json:"qiName"`
	Schema string `json:"qiSchema"`
}

func qiOf(q cache.QI) qiJSON { return qiJSON{q.Name, q.Schema} }

// list writes [f(0),f(1),...] for n items.
func list(b *bytes.Buffer, n int, f func(i int)) {
	b.WriteByte('[')
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		f(i)
	}
	b.WriteByte(']')
}

func sortedQIs[V any](m map[cache.QI]V) []cache.QI {
	keys := make([]cache.QI, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].Name != keys[j].Name {
			return keys[i].Name < keys[j].Name
		}
		return keys[i].Schema < keys[j].Schema
	})
	return keys
}

func writeTables(b *bytes.Buffer, s *cache.Snapshot) {
	keys := sortedQIs(s.Relations)
	list(b, len(keys), func(i int) {
		r := s.Relations[keys[i]]
		b.WriteByte('[')
		writeJSON(b, qiOf(keys[i]))
		b.WriteString(`,{"tableSchema":`)
		writeJSON(b, r.Schema)
		b.WriteString(`,"tableName":`)
		writeJSON(b, r.Name)
		b.WriteString(`,"tableDescription":`)
		writeJSON(b, r.Description)
		b.WriteString(`,"tableIsView":`)
		writeJSON(b, r.Kind == cache.KindView || r.Kind == cache.KindMatView)
		b.WriteString(`,"tableInsertable":`)
		writeJSON(b, r.Insertable)
		b.WriteString(`,"tableUpdatable":`)
		writeJSON(b, r.Updatable)
		b.WriteString(`,"tableDeletable":`)
		writeJSON(b, r.Deletable)
		b.WriteString(`,"tablePKCols":`)
		writeJSON(b, nonNil(r.PrimaryKey))
		b.WriteString(`,"tableColumns":{`)
		for j, c := range r.Columns {
			if j > 0 {
				b.WriteByte(',')
			}
			writeJSON(b, c.Name)
			b.WriteByte(':')
			writeJSON(b, columnJSON(c))
		}
		b.WriteString("}}]")
	})
}

type colJSON struct {
	Name        string   `json:"colName"`
	Description *string  `json:"colDescription"`
	Nullable    bool     `json:"colNullable"`
	Type        string   `json:"colType"`
	NominalType string   `json:"colNominalType"`
	MaxLen      *int     `json:"colMaxLen"`
	Default     *string  `json:"colDefault"`
	Enum        []string `json:"colEnum"`
}

func columnJSON(c *cache.Column) colJSON {
	nominal := c.Type
	if c.NominalType != c.BaseType {
		nominal = c.NominalType // a domain
	}
	return colJSON{c.Name, c.Description, c.Nullable, c.Type, nominal, c.MaxLength, c.Default, nonNil(c.Enum)}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// v16 tags a relationship's cardinality in capitals and keeps the column
// pairs of its foreign key together.
var cardinalityTag = map[cache.Cardinality]string{
	cache.ManyToOne: "M2O", cache.OneToMany: "O2M", cache.OneToOne: "O2O", cache.ManyToMany: "M2M",
}

func writeRelationships(b *bytes.Buffer, s *cache.Snapshot) {
	// v16 keys a relationship list by its table and the schema it is seen from.
	writeKeyed(b, s.Relationships, func(q cache.QI) {
		b.WriteByte('[')
		writeJSON(b, qiOf(q))
		b.WriteByte(',')
		writeJSON(b, q.Schema)
		b.WriteByte(']')
	}, func(r *cache.Relationship) { writeRelationship(b, s, r) })
}

// writeKeyed writes a map by qualified name as v16's list of [key, [values]]
// pairs, in name order.
func writeKeyed[V any](b *bytes.Buffer, m map[cache.QI][]V, key func(cache.QI), value func(V)) {
	keys := sortedQIs(m)
	list(b, len(keys), func(i int) {
		vs := m[keys[i]]
		b.WriteByte('[')
		key(keys[i])
		b.WriteByte(',')
		list(b, len(vs), func(j int) { value(vs[j]) })
		b.WriteByte(']')
	})
}

func writeRelationship(b *bytes.Buffer, s *cache.Snapshot, r *cache.Relationship) {
	isView := func(q cache.QI) bool {
		rel := s.Relations[q]
		return rel != nil && (rel.Kind == cache.KindView || rel.Kind == cache.KindMatView)
	}
	if r.Computed != nil {
		b.WriteString(`{"tag":"ComputedRelationship","relFunction":`)
		writeJSON(b, qiOf(*r.Computed))
		b.WriteString(`,"relTable":`)
		writeJSON(b, qiOf(r.Table))
		b.WriteString(`,"relForeignTable":`)
		writeJSON(b, qiOf(r.ForeignTable))
		b.WriteString(`,"relToOne":`)
		writeJSON(b, r.ToOne)
		b.WriteString(`,"relIsSelf":`)
		writeJSON(b, r.IsSelf)
		b.WriteByte('}')
		return
	}
	b.WriteString(`{"tag":"Relationship","relTable":`)
	writeJSON(b, qiOf(r.Table))
	b.WriteString(`,"relForeignTable":`)
	writeJSON(b, qiOf(r.ForeignTable))
	b.WriteString(`,"relIsSelf":`)
	writeJSON(b, r.IsSelf)
	b.WriteString(`,"relCardinality":{"tag":`)
	writeJSON(b, cardinalityTag[r.Cardinality])
	if j := r.Junction; j != nil {
		b.WriteString(`,"junTable":`)
		writeJSON(b, qiOf(j.Table))
		b.WriteString(`,"junConstraint1":`)
		writeJSON(b, j.Constraint1)
		b.WriteString(`,"junConstraint2":`)
		writeJSON(b, j.Constraint2)
		b.WriteString(`,"junColsSource":`)
		writeJSON(b, pairs(j.SourceColumns, j.SourceJunctionColumns))
		b.WriteString(`,"junColsTarget":`)
		writeJSON(b, pairs(j.TargetJunctionColumns, j.TargetColumns))
	} else {
		b.WriteString(`,"relCons":`)
		writeJSON(b, r.Constraint)
		b.WriteString(`,"relColumns":`)
		writeJSON(b, pairs(r.Columns, r.ForeignColumns))
	}
	b.WriteString(`},"relTableIsView":`)
	writeJSON(b, isView(r.Table))
	b.WriteString(`,"relFTableIsView":`)
	writeJSON(b, isView(r.ForeignTable))
	b.WriteByte('}')
}

func pairs(a, c []string) [][2]string {
	out := make([][2]string, 0, len(a))
	for i := range a {
		if i < len(c) {
			out = append(out, [2]string{a[i], c[i]})
		}
	}
	return out
}

type paramJSON struct {
	Name     string `json:"ppName"`
	Type     string `json:"ppType"`
	TypeMax  string `json:"ppTypeMaxLength"`
	Required bool   `json:"ppReq"`
	Variadic bool   `json:"ppVar"`
}

func writeRoutines(b *bytes.Buffer, s *cache.Snapshot) {
	writeKeyed(b, s.Functions, func(q cache.QI) { writeJSON(b, qiOf(q)) }, func(f *cache.Function) { writeRoutine(b, f) })
}

func writeRoutine(b *bytes.Buffer, f *cache.Function) {
	params := make([]paramJSON, len(f.Params))
	variadic := false
	for i, p := range f.Params {
		params[i] = paramJSON{Name: p.Name, Type: p.Type, TypeMax: p.Type, Required: !p.HasDefault, Variadic: p.Variadic}
		variadic = variadic || p.Variadic
	}
	settings := make([][2]string, 0, len(f.Settings))
	for k, v := range f.Settings {
		settings = append(settings, [2]string{k, v})
	}
	sort.Slice(settings, func(i, j int) bool { return settings[i][0] < settings[j][0] })
	b.WriteString(`{"pdSchema":`)
	writeJSON(b, f.Schema)
	b.WriteString(`,"pdName":`)
	writeJSON(b, f.Name)
	b.WriteString(`,"pdDescription":`)
	writeJSON(b, f.Description)
	b.WriteString(`,"pdParams":`)
	writeJSON(b, params)
	b.WriteString(`,"pdReturnType":{"tag":`)
	if f.ReturnsSet {
		b.WriteString(`"SetOf"`)
	} else {
		b.WriteString(`"Single"`)
	}
	b.WriteString(`,"contents":{"tag":`)
	if f.ReturnKind == cache.ReturnsComposite {
		b.WriteString(`"Composite","contents":[`)
		writeJSON(b, qiOf(f.ReturnType))
		b.WriteString(`,false]}}`)
	} else {
		b.WriteString(`"Scalar","contents":`)
		writeJSON(b, qiOf(f.ReturnType))
		b.WriteString(`}}`)
	}
	b.WriteString(`,"pdVolatility":`)
	writeJSON(b, volatilityName[f.Volatility])
	b.WriteString(`,"pdHasVariadic":`)
	writeJSON(b, variadic)
	b.WriteString(`,"pdFuncSettings":`)
	writeJSON(b, settings)
	b.WriteByte('}')
}

var volatilityName = map[cache.Volatility]string{cache.Immutable: "Immutable", cache.Stable: "Stable", cache.Volatile: "Volatile"}
