package openapi

import (
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/pgrest/pgrest/cache"
)

// OpenAPI 3.1 rendering of the model. Unlike the 2.0 one it follows no
// existing output, so it aims at being valid for 3.1 tooling: component
// keys are restricted to what the specification allows, and a column's
// nullability is in its JSON Schema type instead of in required.

// Build31 renders the OpenAPI 3.1 document. cat may be nil, as for Build.
func Build31(snap *cache.Snapshot, cfg Config, cat *Catalog) ([]byte, error) {
	m := newModel(snap, cfg, cat)
	r := newRenderer31(m)
	paths := obj{"/": obj{"get": obj{
		"tags":    []string{"Introspection"},
		"summary": "OpenAPI description (this document)",
		"responses": obj{"200": obj{"description": "OK", "content": obj{
			"application/openapi+json": obj{"schema": obj{"type": "object"}},
			"application/json":         obj{"schema": obj{"type": "object"}},
		}}},
	}, "post": batchOperation()}}
	schemas := obj{}
	for _, rel := range m.relations {
		paths["/"+url.PathEscape(rel.Name)] = r.relationPath(rel)
		schemas[r.schemaKeys[rel]] = rowSchema(rel)
	}
	for _, f := range m.functions {
		paths["/rpc/"+url.PathEscape(f.Name)] = r.functionPath(f)
	}
	components := obj{"parameters": r.parameters()}
	if len(schemas) > 0 {
		components["schemas"] = schemas
	}
	doc := obj{
		"openapi":      "3.1.0",
		"info":         obj{"title": m.title, "description": m.description, "version": cfg.Version},
		"servers":      []any{obj{"url": serverURL(cfg)}},
		"externalDocs": m.externalDocs(),
		"paths":        paths,
		"components":   components,
	}
	if cfg.SecurityActive {
		components["securitySchemes"] = obj{"JWT": obj{
			"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
			"description": "A JWT sent as Authorization: Bearer <token>",
		}}
		doc["security"] = []any{obj{"JWT": []any{}}}
	}
	return encode(doc)
}

type renderer31 struct {
	m          *model
	schemaKeys map[*relation]string
	filterKeys map[*column]string
}

// commonParameters are the components every relation shares, by key.
var commonParameters = []string{"preferParams", "preferReturn", "preferCount", "preferPost",
	"select", "on_conflict", "order", "range", "rangeUnit", "offset", "limit"}

func newRenderer31(m *model) *renderer31 {
	r := &renderer31{m: m, schemaKeys: map[*relation]string{}, filterKeys: map[*column]string{}}
	var names []string
	for _, rel := range m.relations {
		names = append(names, rel.Name)
	}
	for i, k := range componentKeys(names, map[string]bool{}) {
		r.schemaKeys[m.relations[i]] = k
	}
	taken := map[string]bool{}
	for _, k := range commonParameters {
		taken[k] = true
	}
	var cols []*column
	names = nil
	for _, rel := range m.relations {
		for _, c := range rel.columns {
			if filterable(c.Name) {
				cols = append(cols, c)
				names = append(names, "rowFilter."+rel.Name+"."+c.Name)
			}
		}
	}
	for i, k := range componentKeys(names, taken) {
		r.filterKeys[cols[i]] = k
	}
	return r
}

// filterable: a column named like one of the query parameters PostgREST
// reserves cannot be filtered on, and documenting it would repeat that
// parameter in the operation.
func filterable(name string) bool {
	switch name {
	case "select", "columns", "on_conflict", "order", "limit", "offset", "or", "and":
		return false
	}
	return true
}

var (
	validKey   = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)
	invalidKey = regexp.MustCompile(`[^a-zA-Z0-9._-]`)
)

// componentKeys gives each wanted name a distinct key of the form 3.1
// requires of components, which also needs no escaping in a $ref. Valid
// names are claimed first so that they keep their name; the others have
// their invalid characters replaced, and a suffix when that collides.
func componentKeys(wants []string, taken map[string]bool) []string {
	keys := make([]string, len(wants))
	for _, validPass := range []bool{true, false} {
		for i, w := range wants {
			if validKey.MatchString(w) != validPass {
				continue
			}
			base := invalidKey.ReplaceAllString(w, "_")
			if base == "" {
				base = "_"
			}
			k := base
			for n := 2; taken[k]; n++ {
				k = base + "_" + strconv.Itoa(n)
			}
			taken[k] = true
			keys[i] = k
		}
	}
	return keys
}

func ref(kind, key string) obj { return obj{"$ref": "#/components/" + kind + "/" + key} }

func (r *renderer31) relationPath(rel *relation) obj {
	op := func(params []string, responses obj) obj {
		ps := make([]any, len(params))
		for i, p := range params {
			ps[i] = ref("parameters", p)
		}
		o := obj{"tags": []string{rel.Name}, "responses": responses}
		if len(ps) > 0 {
			o["parameters"] = ps
		}
		return rel.annotate(o)
	}
	var filters []string
	for _, c := range rel.columns {
		if k, ok := r.filterKeys[c]; ok {
			filters = append(filters, k)
		}
	}
	row := ref("schemas", r.schemaKeys[rel])
	rows := obj{
		"application/json":                  obj{"schema": obj{"type": "array", "items": row}},
		"application/vnd.pgrst.object+json": obj{"schema": row},
		"text/csv":                          obj{"schema": obj{"type": "string"}},
	}
	addLines(rows, row)
	body := func(json obj) obj {
		return obj{"content": obj{
			"application/json":                  obj{"schema": json},
			"text/csv":                          obj{"schema": obj{"type": "string"}},
			"application/x-www-form-urlencoded": obj{"schema": row},
		}}
	}
	written := obj{
		"200": obj{"description": "OK", "content": rows},
		"204": obj{"description": "No Content"},
	}
	p := obj{"get": op(append(slices.Clip(filters), "select", "order", "range", "rangeUnit", "offset", "limit", "preferCount"), obj{
		"200": obj{"description": "OK", "content": rows},
		"206": obj{"description": "Partial Content", "content": rows},
	})}
	if rel.writable() {
		post := op([]string{"select", "preferPost"}, obj{"201": obj{"description": "Created", "content": rows}})
		// One row, or many in a bulk insert.
		post["requestBody"] = body(obj{"oneOf": []any{row, obj{"type": "array", "items": row}}})
		addLines(post["requestBody"].(obj)["content"].(obj), row)
		patch := op(append(slices.Clip(filters), "preferReturn"), written)
		patch["requestBody"] = body(row)
		p["post"], p["patch"] = post, patch
		p["delete"] = op(append(slices.Clip(filters), "preferReturn"), written)
	}
	return p
}

func (r *renderer31) functionPath(f *function) obj {
	op := func() obj {
		o := obj{"tags": []string{"(rpc) " + f.Name}, "responses": r.functionResponses(f)}
		if f.summary != nil {
			o["summary"] = *f.summary
		}
		if f.details != "" {
			o["description"] = f.details
		}
		return o
	}
	post := op()
	post["parameters"] = []any{ref("parameters", "preferParams")}
	post["requestBody"] = functionBody(f)
	// A function taking the whole body has no arguments to give in a
	// query string, so GET cannot call it.
	if !f.getToo() || f.wholeBody() {
		return obj{"post": post}
	}
	get := op()
	var query []any
	for i, p := range f.Params {
		t := f.types[i]
		q := obj{"name": p.Name, "in": "query", "required": !p.HasDefault}
		if p.Variadic {
			// A variadic parameter is repeated in the query string.
			elem := strings.TrimSuffix(t, "[]")
			items := obj{"format": swaggerFormat(elem)}
			if et := swaggerType(elem); et != "" {
				items["type"] = et
			}
			q["schema"] = obj{"type": "array", "items": items}
			q["style"], q["explode"] = "form", true
		} else {
			// Arrays are written {a,b}, json as its text.
			st := swaggerType(t)
			if st == "" || st == "array" {
				st = "string"
			}
			q["schema"] = obj{"type": st, "format": swaggerFormat(t)}
		}
		query = append(query, q)
	}
	if len(query) > 0 {
		get["parameters"] = query
	}
	return obj{"get": get, "post": post}
}

func functionBody(f *function) obj {
	if f.wholeBody() {
		ct := wholeBodyTypes[f.Params[0].Type]
		media := obj{}
		if ct == "text/plain" || ct == "text/xml" {
			media["schema"] = obj{"type": "string"}
		}
		return obj{"required": !f.Params[0].HasDefault, "content": obj{ct: media}}
	}
	props := obj{}
	var required []string
	for i, p := range f.Params {
		props[p.Name] = valueSchema(f.types[i], false)
		if !p.HasDefault {
			required = append(required, p.Name)
		}
	}
	args := obj{"type": "object", "properties": props}
	if len(required) > 0 {
		args["required"] = required
	}
	if f.Description != nil {
		args["description"] = *f.Description
	}
	return obj{"required": len(required) > 0, "content": obj{"application/json": obj{"schema": args}}}
}

// functionResponses describe the result as PostgREST returns it: nothing
// for void, the rows of a set, the value itself otherwise.
func (r *renderer31) functionResponses(f *function) obj {
	if f.ReturnKind == cache.ReturnsVoid {
		return obj{"204": obj{"description": "No Content"}}
	}
	if f.MediaType != "" {
		return obj{"200": obj{"description": "OK", "content": obj{f.MediaType: obj{}}}}
	}
	item := r.resultSchema(f)
	all := item
	if f.ReturnsSet {
		all = obj{"type": "array", "items": item}
	}
	content := obj{
		"application/json":                  obj{"schema": all},
		"application/vnd.pgrst.object+json": obj{"schema": item},
	}
	if f.ReturnsSet {
		addLines(content, item)
	}
	return obj{"200": obj{"description": "OK", "content": content}}
}

// addLines documents the streamed media types, one JSON value (of schema
// line) per line: answers of reads, calls and return=representation,
// and bulk POST bodies (loaded by COPY).
func addLines(content obj, line obj) {
	for _, mt := range []string{"application/x-ndjson", "application/jsonl"} {
		content[mt] = obj{"schema": line}
	}
}

func (r *renderer31) resultSchema(f *function) obj {
	if f.ReturnsRelation {
		if rel := r.m.relation(f.ReturnType); rel != nil {
			return ref("schemas", r.schemaKeys[rel])
		}
	}
	if f.ReturnKind == cache.ReturnsComposite {
		s := obj{"type": "object"}
		if len(f.Columns) > 0 {
			props := obj{}
			for _, c := range f.Columns {
				props[c.Name] = valueSchema(stripTypmod(c.Type), c.Nullable)
			}
			s["properties"] = props
		}
		return s
	}
	if t := scalarType(f.ReturnType); t != "" {
		return valueSchema(t, true)
	}
	return obj{} // a domain or user-defined type: any JSON value
}

// builtinNames are format_type's names of the built-in types whose
// internal name differs, so a scalar result reads like a column.
var builtinNames = map[string]string{
	"int2": "smallint", "int4": "integer", "int8": "bigint", "float4": "real", "float8": "double precision",
	"bool": "boolean", "varchar": "character varying", "bpchar": "character",
	"timestamp": "timestamp without time zone", "timestamptz": "timestamp with time zone",
	"time": "time without time zone", "timetz": "time with time zone",
}

// scalarType names a function's result type as a column's would be;
// "" outside pg_catalog, whose JSON shape is not known from the name.
func scalarType(qi cache.QI) string {
	if qi.Schema != "pg_catalog" {
		return ""
	}
	name, suffix := qi.Name, ""
	if n, ok := strings.CutPrefix(name, "_"); ok {
		name, suffix = n, "[]"
	}
	if b, ok := builtinNames[name]; ok {
		name = b
	}
	return name + suffix
}

// rowSchema is the JSON Schema 2020-12 of a relation's rows. Nothing is
// required: select= picks the columns of a response, and a body may leave
// out columns that have defaults or, for PATCH, that it does not change.
func rowSchema(rel *relation) obj {
	props := obj{}
	for _, c := range rel.columns {
		p := valueSchema(c.typ, c.Nullable)
		if c.maxLength != nil {
			p["maxLength"] = *c.maxLength
		}
		if len(c.Enum) > 0 {
			enum := make([]any, 0, len(c.Enum)+1)
			for _, e := range c.Enum {
				enum = append(enum, e)
			}
			if c.Nullable {
				enum = append(enum, nil) // enum constrains null too
			}
			p["enum"] = enum
		}
		if c.def != nil {
			p["default"] = c.def
		}
		if c.notes != nil {
			p["description"] = *c.notes
		}
		props[c.Name] = p
	}
	s := obj{"type": "object", "properties": props}
	if rel.Description != nil {
		s["description"] = *rel.Description
	}
	return s
}

// valueSchema is the JSON Schema of a value of PostgreSQL type t, with
// the same types and formats as the 2.0 document.
func valueSchema(t string, nullable bool) obj {
	s := obj{"format": swaggerFormat(t)}
	jt := swaggerType(t)
	if jt == "" {
		return s // json: any value, null included
	}
	if nullable {
		s["type"] = []string{jt, "null"}
	} else {
		s["type"] = jt
	}
	if jt == "array" {
		if et := swaggerType(strings.TrimSuffix(t, "[]")); et != "" {
			s["items"] = obj{"type": et}
		}
	}
	return s
}

func (r *renderer31) parameters() obj {
	query := func(name, description string) obj {
		p := obj{"name": name, "in": "query", "required": false, "schema": obj{"type": "string"}}
		if description != "" {
			p["description"] = description
		}
		return p
	}
	ps := obj{}
	for _, sp := range sharedParams() {
		schema := obj{"type": "string"}
		if len(sp.enum) > 0 {
			schema["enum"] = sp.enum
		}
		if sp.def != "" {
			schema["default"] = sp.def
		}
		ps[sp.key] = obj{"name": sp.name, "in": sp.in, "description": sp.description, "required": false, "schema": schema}
	}
	for _, rel := range r.m.relations {
		for _, c := range rel.columns {
			if k, ok := r.filterKeys[c]; ok {
				desc := ""
				if c.Description != nil {
					desc = *c.Description
				}
				ps[k] = query(c.Name, desc)
			}
		}
	}
	return ps
}

// serverURL is the server's URL as 3.1 gives it, without the trailing
// slash since paths are appended to it as they are.
func serverURL(cfg Config) string {
	scheme, host, port, base := serverURI(cfg)
	hostport := net.JoinHostPort(host, strconv.Itoa(port))
	if (scheme == "http" && port == 80) || (scheme == "https" && port == 443) {
		hostport = strings.TrimSuffix(hostport, ":"+strconv.Itoa(port))
	}
	return scheme + "://" + hostport + strings.TrimSuffix(base, "/")
}
