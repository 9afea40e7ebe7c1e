package openapi

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/pgrest/pgrest/cache"
)

// Swagger 2.0 as PostgREST writes it: empty objects and arrays are left
// out, as its Swagger library does, except paths.

// PostgREST lists the singular media type with and without stripped nulls.
var (
	allMedia = []string{"application/json", "application/vnd.pgrst.object+json;nulls=stripped",
		"application/vnd.pgrst.object+json", "text/csv"}
	rpcMedia = allMedia[:3]
)

// Build renders the Swagger 2.0 document. cat may be nil (then every
// relation and function of the snapshot is shown, with types derived from
// the snapshot).
func Build(snap *cache.Snapshot, cfg Config, cat *Catalog) ([]byte, error) {
	m := newModel(snap, cfg, cat)
	scheme, host, port, base := serverURI(cfg)
	paths := obj{"/": obj{"get": obj{
		"tags":      []string{"Introspection"},
		"summary":   "OpenAPI description (this document)",
		"produces":  []string{"application/openapi+json", "application/json"},
		"responses": obj{"200": obj{"description": "OK"}},
	}}}
	definitions := obj{}
	for _, r := range m.relations {
		paths["/"+r.Name] = relationPath(r)
		definitions[r.Name] = definition(r)
	}
	for _, f := range m.functions {
		paths["/rpc/"+f.Name] = functionPath(f)
	}
	doc := obj{
		"swagger":      "2.0",
		"info":         obj{"title": m.title, "description": m.description, "version": cfg.Version},
		"host":         host + ":" + strconv.Itoa(port),
		"basePath":     base,
		"schemes":      []string{scheme},
		"consumes":     allMedia,
		"produces":     allMedia,
		"externalDocs": m.externalDocs(),
		"paths":        paths,
		"definitions":  definitions,
		"parameters":   parameters(m.relations),
	}
	if cfg.SecurityActive {
		doc["securityDefinitions"] = obj{"JWT": obj{
			"type": "apiKey", "in": "header", "name": "Authorization",
			"description": `Add the token prepending "Bearer " (without quotes) to it`,
		}}
		doc["security"] = []any{keep{obj{"JWT": []any{}}}}
	}
	return encode(omitEmpty(doc))
}

func relationPath(r *relation) obj {
	op := func(params []string, responses obj) obj {
		return r.annotate(obj{"tags": []string{r.Name}, "parameters": refs("#/parameters/", params), "responses": responses})
	}
	var filters []string
	for _, c := range r.columns {
		filters = append(filters, "rowFilter."+r.Name+"."+c.Name)
	}
	p := obj{"get": op(append(slices.Clip(filters), "select", "order", "range", "rangeUnit", "offset", "limit", "preferCount"), obj{
		"200": obj{"description": "OK", "schema": obj{"type": "array", "items": obj{"$ref": "#/definitions/" + r.Name}}},
		"206": obj{"description": "Partial Content"},
	})}
	if r.writable() {
		p["post"] = op([]string{"body." + r.Name, "select", "preferPost"}, obj{"201": obj{"description": "Created"}})
		p["patch"] = op(append(slices.Clip(filters), "body."+r.Name, "preferReturn"), obj{"204": obj{"description": "No Content"}})
		p["delete"] = op(append(slices.Clip(filters), "preferReturn"), obj{"204": obj{"description": "No Content"}})
	}
	return p
}

func functionPath(f *function) obj {
	op := func(params []any) obj {
		o := obj{"tags": []string{"(rpc) " + f.Name}, "produces": rpcMedia, "parameters": params,
			"responses": obj{"200": obj{"description": "OK"}}}
		if f.summary != nil {
			o["summary"] = *f.summary
		}
		if f.details != "" {
			o["description"] = f.details
		}
		return o
	}
	props, required := obj{}, []string{}
	var query []any
	for i, p := range f.Params {
		t := f.types[i]
		props[p.Name] = typed(obj{}, t)
		if !p.HasDefault {
			required = append(required, p.Name)
		}
		q := obj{"name": p.Name, "required": !p.HasDefault, "in": "query"}
		if p.Variadic {
			// A variadic parameter is repeated in the query string.
			q["type"] = or(swaggerType(t), "string")
			q["collectionFormat"] = "multi"
			elem := strings.TrimSuffix(t, "[]")
			items := obj{"format": swaggerFormat(elem)}
			if et := swaggerType(elem); et != "" {
				items["type"] = et
			}
			q["items"] = items
		} else {
			q["format"] = swaggerFormat(t)
			// Query parameters need a type; arrays are written {a,b}.
			if st := swaggerType(t); st != "" && st != "array" {
				q["type"] = st
			} else {
				q["type"] = "string"
			}
		}
		query = append(query, q)
	}
	args := obj{"type": "object", "properties": props, "required": required}
	if f.Description != nil {
		args["description"] = *f.Description
	}
	post := op([]any{
		obj{"name": "args", "required": true, "in": "body", "schema": args},
		obj{"$ref": "#/parameters/preferParams"},
	})
	if !f.getToo() {
		return obj{"post": post}
	}
	return obj{"get": op(query), "post": post}
}

func definition(r *relation) obj {
	props := obj{}
	var required []string
	for _, c := range r.columns {
		p := typed(obj{}, c.typ)
		if c.maxLength != nil {
			p["maxLength"] = *c.maxLength
		}
		if len(c.Enum) > 0 {
			p["enum"] = c.Enum
		}
		if c.def != nil {
			p["default"] = c.def
		}
		if c.notes != nil {
			p["description"] = *c.notes
		}
		props[c.Name] = p
		if !c.Nullable {
			required = append(required, c.Name)
		}
	}
	d := obj{"type": "object", "properties": props, "required": required}
	if r.Description != nil {
		d["description"] = *r.Description
	}
	return d
}

func parameters(rels []*relation) obj {
	ps := obj{}
	for _, sp := range sharedParams() {
		p := obj{"name": sp.name, "description": sp.description, "required": false, "in": sp.in, "type": "string"}
		if len(sp.enum) > 0 {
			p["enum"] = sp.enum
		}
		if sp.def != "" {
			p["default"] = sp.def
		}
		ps[sp.key] = p
	}
	for _, r := range rels {
		ps["body."+r.Name] = obj{"name": r.Name, "description": r.Name, "required": false, "in": "body",
			"schema": obj{"$ref": "#/definitions/" + r.Name}}
		for _, c := range r.Columns {
			p := obj{"name": c.Name, "required": false, "in": "query", "type": "string"}
			if c.Description != nil {
				p["description"] = *c.Description
			}
			ps["rowFilter."+r.Name+"."+c.Name] = p
		}
	}
	return ps
}

// typed sets the type, format and, for arrays, the element type of a
// schema object.
func typed(o obj, t string) obj {
	if st := swaggerType(t); st != "" {
		o["type"] = st
		if st == "array" {
			items := obj{}
			if et := swaggerType(strings.TrimSuffix(t, "[]")); et != "" {
				items["type"] = et
			}
			// An empty items object says "any value", so it stays.
			o["items"] = keep{items}
		}
	}
	o["format"] = swaggerFormat(t)
	return o
}

// keep wraps a value omitEmpty must leave as it is, empty or not: what
// PostgREST's Swagger library encodes as a plain value, not a record.
type keep struct{ v any }

func refs(prefix string, names []string) []any {
	out := make([]any, len(names))
	for i, n := range names {
		out[i] = obj{"$ref": prefix + n}
	}
	return out
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// omitEmpty drops nil values and empty objects and arrays, recursively,
// keeping paths (the Swagger library always writes it).
func omitEmpty(v any) any {
	switch x := v.(type) {
	case obj:
		out := obj{}
		for k, e := range x {
			e = omitEmpty(e)
			if e == nil {
				if k == "paths" {
					out[k] = obj{}
				}
				continue
			}
			out[k] = e
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case keep:
		return x.v
	case []any:
		if len(x) == 0 {
			return nil
		}
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = omitEmpty(e)
		}
		return out
	case []string:
		if len(x) == 0 {
			return nil
		}
		return x
	case string:
		return x // an empty string is a value (e.g. info.description)
	case json.RawMessage:
		return x
	}
	return v
}
