package openapi

import (
	"encoding/json"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/pgrest/pgrest/cache"
)

func build31(t *testing.T, s *cache.Snapshot, c Config, cat *Catalog) map[string]any {
	t.Helper()
	b, err := Build31(s, c, cat)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	validate31(t, doc)
	return doc
}

// resolve follows a local $ref (a JSON pointer in a URI fragment) inside
// the document; nil when it points nowhere.
func resolve(doc map[string]any, ref string) any {
	frag, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil
	}
	frag, err := url.PathUnescape(frag)
	if err != nil {
		return nil
	}
	var v any = doc
	for _, tok := range strings.Split(frag, "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		if v, ok = m[tok]; !ok {
			return nil
		}
	}
	return v
}

var (
	componentKey  = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)
	jsonTypes     = []string{"array", "boolean", "integer", "null", "number", "object", "string"}
	httpMethods   = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}
	parameterLocs = []string{"query", "header", "path", "cookie"}
	responseCode  = regexp.MustCompile(`^([1-5]([0-9]{2}|XX)|default)$`)
)

// fields are the fields 3.1 allows on each kind of object (its schema
// admits no others, extensions aside).
var fields = map[string][]string{
	"operation": {"tags", "summary", "description", "externalDocs", "operationId", "parameters", "requestBody",
		"responses", "callbacks", "deprecated", "security", "servers"},
	"parameter": {"name", "in", "description", "required", "deprecated", "schema", "content", "style", "explode",
		"allowReserved", "allowEmptyValue", "example", "examples"},
	"requestBody": {"description", "content", "required"},
	"response":    {"description", "headers", "content", "links"},
	"media":       {"schema", "encoding", "example", "examples"},
}

func checkFields(t reporter, where, kind string, v any) {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Errorf("%s: %s %v is no object", where, kind, v)
		return
	}
	if _, ok := m["$ref"]; ok {
		return
	}
	for k := range m {
		if !slices.Contains(fields[kind], k) {
			t.Errorf("%s: %s has %q", where, kind, k)
		}
	}
}

// reporter is what the validator needs of a *testing.T, so that its own
// test can tell whether it complained.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
}

type complaints struct{ n int }

func (c *complaints) Helper()               {}
func (c *complaints) Errorf(string, ...any) { c.n++ }

// validate31 checks the document's structure against what OpenAPI 3.1
// requires of it, as far as this package's output goes: every $ref
// resolves, operations refer to components of the right kind, parameters
// are unique per operation, and schemas are well-formed JSON Schema.
func validate31(t reporter, doc map[string]any) {
	t.Helper()
	if doc["openapi"] != "3.1.0" || at(doc, "info", "title") == nil || at(doc, "info", "version") == nil {
		t.Errorf("openapi/info: %v %v", doc["openapi"], doc["info"])
	}
	var walk func(where string, v any)
	walk = func(where string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if r, ok := x["$ref"]; ok {
				if s, _ := r.(string); resolve(doc, s) == nil {
					t.Errorf("%s: $ref %v does not resolve", where, r)
				}
			}
			for k, e := range x {
				walk(where+"/"+k, e)
			}
		case []any:
			for _, e := range x {
				walk(where+"[]", e)
			}
		}
	}
	walk("#", doc)

	for kind, comps := range at(doc, "components").(map[string]any) {
		for k := range comps.(map[string]any) {
			if !componentKey.MatchString(k) {
				t.Errorf("components/%s key %q", kind, k)
			}
		}
	}
	schemas, _ := at(doc, "components", "schemas").(map[string]any)
	for name, s := range schemas {
		checkSchema(t, doc, "components/schemas/"+name, s)
	}
	params, _ := at(doc, "components", "parameters").(map[string]any)
	for name, p := range params {
		checkParameter(t, doc, "components/parameters/"+name, p)
	}
	if ss := at(doc, "components", "securitySchemes"); ss != nil {
		for _, req := range doc["security"].([]any) {
			for k := range req.(map[string]any) {
				if at(ss, k) == nil {
					t.Errorf("security requirement %q has no scheme", k)
				}
			}
		}
	}

	for path, item := range doc["paths"].(map[string]any) {
		if !strings.HasPrefix(path, "/") {
			t.Errorf("path %q", path)
		}
		if _, err := url.Parse(path); err != nil || strings.ContainsAny(path, " {}") {
			t.Errorf("path %q is not a URL path", path)
		}
		for method, o := range item.(map[string]any) {
			where := path + " " + method
			if !slices.Contains(httpMethods, method) {
				t.Errorf("%s: not an operation", where)
				continue
			}
			checkFields(t, where, "operation", o)
			op, _ := o.(map[string]any)
			seen := map[[2]string]bool{}
			params, _ := op["parameters"].([]any)
			for _, p := range params {
				if r, ok := at(p, "$ref").(string); ok {
					if !strings.HasPrefix(r, "#/components/parameters/") {
						t.Errorf("%s: parameter $ref %s", where, r)
					}
					p = resolve(doc, r)
				}
				checkParameter(t, doc, where, p)
				name, _ := at(p, "name").(string)
				in, _ := at(p, "in").(string)
				id := [2]string{name, in}
				if seen[id] {
					t.Errorf("%s: parameter %v twice", where, id)
				}
				seen[id] = true
			}
			if rb, ok := op["requestBody"]; ok {
				checkFields(t, where, "requestBody", rb)
				checkContent(t, doc, where+" requestBody", at(rb, "content"))
			}
			responses, _ := op["responses"].(map[string]any)
			if len(responses) == 0 {
				t.Errorf("%s: no responses", where)
			}
			for code, resp := range responses {
				if !responseCode.MatchString(code) {
					t.Errorf("%s: response %q", where, code)
				}
				checkFields(t, where+" "+code, "response", resp)
				if _, ok := resp.(map[string]any)["description"].(string); !ok {
					t.Errorf("%s %s: no description", where, code)
				}
				if c := at(resp, "content"); c != nil {
					checkContent(t, doc, where+" "+code, c)
				}
			}
		}
	}
}

func checkParameter(t reporter, doc map[string]any, where string, p any) {
	t.Helper()
	checkFields(t, where, "parameter", p)
	name, _ := at(p, "name").(string)
	in, _ := at(p, "in").(string)
	if name == "" || !slices.Contains(parameterLocs, in) || at(p, "schema") == nil {
		t.Errorf("%s: parameter %v", where, p)
		return
	}
	checkSchema(t, doc, where+" "+name, at(p, "schema"))
}

func checkContent(t reporter, doc map[string]any, where string, c any) {
	t.Helper()
	m, ok := c.(map[string]any)
	if !ok || len(m) == 0 {
		t.Errorf("%s: content %v", where, c)
		return
	}
	for mt, media := range m {
		checkFields(t, where+" "+mt, "media", media)
		if _, ok := media.(map[string]any); !ok || !strings.Contains(mt, "/") {
			t.Errorf("%s: media type %q: %v", where, mt, media)
		}
		if s := at(media, "schema"); s != nil {
			checkSchema(t, doc, where+" "+mt, s)
		}
	}
}

// checkSchema checks what this package writes of JSON Schema 2020-12.
func checkSchema(t reporter, doc map[string]any, where string, v any) {
	t.Helper()
	s, ok := v.(map[string]any)
	if !ok {
		t.Errorf("%s: schema %v", where, v)
		return
	}
	if r, ok := s["$ref"].(string); ok && !strings.HasPrefix(r, "#/components/schemas/") {
		t.Errorf("%s: schema $ref %s", where, r)
	}
	var types []string
	switch ty := s["type"].(type) {
	case nil:
	case string:
		types = []string{ty}
	case []any:
		for _, e := range ty {
			types = append(types, e.(string))
		}
	default:
		t.Errorf("%s: type %v", where, ty)
	}
	for _, ty := range types {
		if !slices.Contains(jsonTypes, ty) {
			t.Errorf("%s: type %q", where, ty)
		}
	}
	if e, ok := s["enum"]; ok {
		enum, _ := e.([]any)
		if len(enum) == 0 || slices.Contains(types, "null") != slices.Contains(enum, nil) {
			t.Errorf("%s: enum %v for type %v", where, e, types)
		}
	}
	if _, ok := s["required"]; ok {
		for _, r := range s["required"].([]any) {
			if at(s, "properties", r.(string)) == nil {
				t.Errorf("%s: required %v is no property", where, r)
			}
		}
	}
	if props, ok := s["properties"]; ok {
		for k, p := range props.(map[string]any) {
			checkSchema(t, doc, where+"."+k, p)
		}
	}
	if items, ok := s["items"]; ok {
		checkSchema(t, doc, where+"[]", items)
	}
	if one, ok := s["oneOf"]; ok {
		for _, o := range one.([]any) {
			checkSchema(t, doc, where+" oneOf", o)
		}
	}
}

// pathMethods lists each path's operations, as decoded JSON would.
func pathMethods(doc map[string]any) map[string]any {
	out := map[string]any{}
	for p, item := range doc["paths"].(map[string]any) {
		var ms []string
		for m := range item.(map[string]any) {
			ms = append(ms, m)
		}
		sort.Strings(ms)
		var l []any
		for _, m := range ms {
			l = append(l, m)
		}
		out[p] = l
	}
	return out
}

func TestOpenAPI31Document(t *testing.T) {
	doc := build31(t, snapshot(), cfg, nil)
	eqJSON(t, "top", obj{"info": doc["info"], "servers": doc["servers"], "externalDocs": doc["externalDocs"]}, `{
		"info": {"title": "PostgREST API", "description": "This is a dynamic API generated by PostgREST", "version": "1.2.3"},
		"servers": [{"url": "http://0.0.0.0:3000"}],
		"externalDocs": {"description": "PostgREST Documentation", "url": "https://postgrest.org/en/v16/references/api.html"}}`)
	if doc["security"] != nil || at(doc, "components", "securitySchemes") != nil {
		t.Error("security without openapi-security-active")
	}
	eqJSON(t, "paths", pathMethods(doc), `{
		"/": ["get", "post"], "/items": ["delete", "get", "patch", "post"], "/categories": ["delete", "get", "patch", "post"],
		"/cheap": ["get"], "/rpc/add": ["get", "post"], "/rpc/bump": ["post"]}`)
	if at(doc, "paths", "/", "post", "requestBody", "content", "application/vnd.pgrest.batch+json", "schema") == nil {
		t.Error("no batch request body on POST /")
	}
}

// Both renderings come from one model: the same paths and operations,
// whatever decides visibility.
func TestOpenAPI31SameOperations(t *testing.T) {
	cat := func() *Catalog {
		return &Catalog{
			Relations: map[string]*RelationFacts{"items": {Accessible: true}, "categories": {}, "cheap": {Accessible: true}},
			Functions: []*FunctionFacts{
				{Name: "add", Args: []*ArgFacts{{Name: "a", Type: "integer"}, {Name: "b", Type: "integer"}}},
				{Name: "bump", Executable: true, Args: []*ArgFacts{{Name: "vals", Type: "text[]"}}},
			},
		}
	}
	for _, follow := range []bool{true, false} {
		for _, c := range []*Catalog{nil, cat()} {
			cc := cfg
			cc.FollowPrivileges = follow
			got, want := pathMethods(build31(t, snapshot(), cc, c)), pathMethods(build(t, snapshot(), cc, c))
			want["/"] = []any{"get", "post"} // batches: pgrest-only, so in 3.1 only
			if !reflect.DeepEqual(got, want) {
				t.Errorf("follow %v, catalog %v: 3.1 %v, 2.0 %v", follow, c != nil, got, want)
			}
		}
	}
}

func TestOpenAPI31Table(t *testing.T) {
	doc := build31(t, snapshot(), cfg, nil)
	eqJSON(t, "schema", at(doc, "components", "schemas", "items"), `{
		"type": "object",
		"description": "Items\n\nEverything we sell",
		"properties": {
			"id": {"type": "integer", "format": "int32", "description": "the id\n\nNote:\nThis is a Primary Key.<pk/>"},
			"name": {"type": ["string", "null"], "format": "character varying", "maxLength": 20, "default": "none"},
			"price": {"type": "number", "format": "numeric", "default": 0},
			"tags": {"type": ["array", "null"], "format": "text[]", "items": {"type": "string"}},
			"data": {"format": "jsonb"},
			"feeling": {"type": ["string", "null"], "format": "mood", "enum": ["sad", "happy", null]},
			"category_id": {"type": ["integer", "null"], "format": "int64",
				"description": "Note:\nThis is a Foreign Key to `+"`categories.id`"+`.<fk table='categories' column='id'/>"}
		}}`)
	p := at(doc, "paths", "/items").(map[string]any)
	rows := `{
		"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/items"}}},
		"application/vnd.pgrst.object+json": {"schema": {"$ref": "#/components/schemas/items"}},
		"application/x-ndjson": {"schema": {"$ref": "#/components/schemas/items"}},
		"application/jsonl": {"schema": {"$ref": "#/components/schemas/items"}},
		"text/csv": {"schema": {"type": "string"}}}`
	eqJSON(t, "get", p["get"], `{
		"tags": ["items"], "summary": "Items", "description": "Everything we sell",
		"parameters": [
			{"$ref": "#/components/parameters/rowFilter.items.id"}, {"$ref": "#/components/parameters/rowFilter.items.name"},
			{"$ref": "#/components/parameters/rowFilter.items.price"}, {"$ref": "#/components/parameters/rowFilter.items.tags"},
			{"$ref": "#/components/parameters/rowFilter.items.data"}, {"$ref": "#/components/parameters/rowFilter.items.feeling"},
			{"$ref": "#/components/parameters/rowFilter.items.category_id"},
			{"$ref": "#/components/parameters/select"}, {"$ref": "#/components/parameters/order"},
			{"$ref": "#/components/parameters/range"}, {"$ref": "#/components/parameters/rangeUnit"},
			{"$ref": "#/components/parameters/offset"}, {"$ref": "#/components/parameters/limit"},
			{"$ref": "#/components/parameters/preferCount"}],
		"responses": {
			"200": {"description": "OK", "content": `+rows+`},
			"206": {"description": "Partial Content", "content": `+rows+`}}}`)
	eqJSON(t, "post body", at(p, "post", "requestBody"), `{"content": {
		"application/json": {"schema": {"oneOf": [{"$ref": "#/components/schemas/items"},
			{"type": "array", "items": {"$ref": "#/components/schemas/items"}}]}},
		"text/csv": {"schema": {"type": "string"}},
		"application/x-ndjson": {"schema": {"$ref": "#/components/schemas/items"}},
		"application/jsonl": {"schema": {"$ref": "#/components/schemas/items"}},
		"application/x-www-form-urlencoded": {"schema": {"$ref": "#/components/schemas/items"}}}}`)
	eqJSON(t, "post parameters", at(p, "post", "parameters"),
		`[{"$ref": "#/components/parameters/select"}, {"$ref": "#/components/parameters/preferPost"}]`)
	eqJSON(t, "post responses", at(p, "post", "responses"), `{"201": {"description": "Created", "content": `+rows+`}}`)
	eqJSON(t, "patch body", at(p, "patch", "requestBody", "content", "application/json"), `{"schema": {"$ref": "#/components/schemas/items"}}`)
	eqJSON(t, "delete responses", at(p, "delete", "responses"), `{
		"200": {"description": "OK", "content": `+rows+`}, "204": {"description": "No Content"}}`)
	eqJSON(t, "row filter", at(doc, "components", "parameters", "rowFilter.items.id"),
		`{"name": "id", "description": "the id", "required": false, "in": "query", "schema": {"type": "string"}}`)
	eqJSON(t, "preferPost", at(doc, "components", "parameters", "preferPost"), `{"name": "Prefer", "description": "Preference",
		"required": false, "in": "header", "schema": {"type": "string", "enum": ["return=representation", "return=minimal",
		"return=none", "resolution=ignore-duplicates", "resolution=merge-duplicates"]}}`)
	eqJSON(t, "rangeUnit", at(doc, "components", "parameters", "rangeUnit"), `{"name": "Range-Unit",
		"description": "Limiting and Pagination", "required": false, "in": "header", "schema": {"type": "string", "default": "items"}}`)
}

func TestOpenAPI31ReadOnlyView(t *testing.T) {
	doc := build31(t, snapshot(), cfg, nil)
	eqJSON(t, "view", at(doc, "components", "schemas", "cheap"),
		`{"type": "object", "properties": {"id": {"type": ["integer", "null"], "format": "int32"}}}`)
}

func TestOpenAPI31Function(t *testing.T) {
	doc := build31(t, snapshot(), cfg, nil)
	result := `{"200": {"description": "OK", "content": {
		"application/json": {"schema": {"type": ["integer", "null"], "format": "int32"}},
		"application/vnd.pgrst.object+json": {"schema": {"type": ["integer", "null"], "format": "int32"}}}}}`
	eqJSON(t, "/rpc/add", at(doc, "paths", "/rpc/add"), `{
		"get": {"tags": ["(rpc) add"], "summary": "Adds", "description": "Two numbers",
			"parameters": [
				{"name": "a", "required": true, "in": "query", "schema": {"type": "integer", "format": "int32"}},
				{"name": "b", "required": false, "in": "query", "schema": {"type": "integer", "format": "int32"}}],
			"responses": `+result+`},
		"post": {"tags": ["(rpc) add"], "summary": "Adds", "description": "Two numbers",
			"parameters": [{"$ref": "#/components/parameters/preferParams"}],
			"requestBody": {"required": true, "content": {"application/json": {"schema": {
				"type": "object", "description": "Adds\nTwo numbers", "required": ["a"],
				"properties": {"a": {"type": "integer", "format": "int32"}, "b": {"type": "integer", "format": "int32"}}}}}},
			"responses": `+result+`}}`)
	eqJSON(t, "void, variadic", at(doc, "paths", "/rpc/bump", "post"), `{"tags": ["(rpc) bump"],
		"parameters": [{"$ref": "#/components/parameters/preferParams"}],
		"requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["vals"],
			"properties": {"vals": {"type": "array", "format": "text[]", "items": {"type": "string"}}}}}}},
		"responses": {"204": {"description": "No Content"}}}`)

	s := snapshot()
	s.Functions[cache.QI{Schema: "api", Name: "bump"}][0].Volatility = cache.Stable
	doc = build31(t, s, cfg, nil)
	eqJSON(t, "variadic query parameter", at(doc, "paths", "/rpc/bump", "get", "parameters"),
		`[{"name": "vals", "required": true, "in": "query", "style": "form", "explode": true,
		   "schema": {"type": "array", "items": {"type": "string", "format": "text"}}}]`)
}

// A result's schema: the relation's rows by reference, a composite's
// columns, a scalar, a handler's media type; a body taken whole.
func TestOpenAPI31FunctionResults(t *testing.T) {
	s := snapshot()
	fn := func(name string, f *cache.Function) {
		f.Schema, f.Name, f.Volatility = "api", name, cache.Stable
		s.Functions[cache.QI{Schema: "api", Name: name}] = []*cache.Function{f}
	}
	fn("all_items", &cache.Function{ReturnType: cache.QI{Schema: "api", Name: "items"}, ReturnKind: cache.ReturnsComposite,
		ReturnsSet: true, ReturnsRelation: true, Columns: []*cache.Column{{Name: "id", Type: "integer"}}})
	fn("secret", &cache.Function{ReturnType: cache.QI{Schema: "private", Name: "secret"}, ReturnKind: cache.ReturnsComposite,
		ReturnsRelation: true, Columns: []*cache.Column{{Name: "id", Type: "integer", Nullable: true}}})
	fn("pair", &cache.Function{ReturnType: cache.QI{Schema: "pg_catalog", Name: "record"}, ReturnKind: cache.ReturnsComposite,
		ReturnsSet: true, ReturnsTable: true, Columns: []*cache.Column{{Name: "k", Type: "character varying(3)", Nullable: true}}})
	fn("ids", &cache.Function{ReturnType: cache.QI{Schema: "pg_catalog", Name: "_int8"}, ReturnKind: cache.ReturnsScalar})
	fn("mood", &cache.Function{ReturnType: cache.QI{Schema: "api", Name: "mood"}, ReturnKind: cache.ReturnsScalar})
	fn("page", &cache.Function{ReturnType: cache.QI{Schema: "api", Name: "text/html"}, ReturnKind: cache.ReturnsScalar, MediaType: "text/html"})
	fn("echo", &cache.Function{Params: []cache.Param{{Type: "text"}}, ReturnType: cache.QI{Schema: "pg_catalog", Name: "text"},
		ReturnKind: cache.ReturnsScalar})
	fn("upload", &cache.Function{Params: []cache.Param{{Type: "bytea"}}, ReturnType: cache.QI{Schema: "pg_catalog", Name: "void"},
		ReturnKind: cache.ReturnsVoid})
	doc := build31(t, s, cfg, nil)
	json := func(path string) any {
		return at(doc, "paths", path, "get", "responses", "200", "content", "application/json", "schema")
	}
	eqJSON(t, "set of a relation's rows", json("/rpc/all_items"), `{"type": "array", "items": {"$ref": "#/components/schemas/items"}}`)
	eqJSON(t, "a row of a relation not documented", json("/rpc/secret"),
		`{"type": "object", "properties": {"id": {"type": ["integer", "null"], "format": "int32"}}}`)
	eqJSON(t, "RETURNS TABLE", json("/rpc/pair"),
		`{"type": "array", "items": {"type": "object", "properties": {"k": {"type": ["string", "null"], "format": "character varying"}}}}`)
	eqJSON(t, "array scalar", json("/rpc/ids"), `{"type": ["array", "null"], "format": "bigint[]", "items": {"type": "integer"}}`)
	eqJSON(t, "user-defined scalar", json("/rpc/mood"), `{}`)
	eqJSON(t, "media type handler", at(doc, "paths", "/rpc/page", "get", "responses"),
		`{"200": {"description": "OK", "content": {"text/html": {}}}}`)
	eqJSON(t, "whole text body", at(doc, "paths", "/rpc/echo"), `{"post": {"tags": ["(rpc) echo"],
		"parameters": [{"$ref": "#/components/parameters/preferParams"}],
		"requestBody": {"required": true, "content": {"text/plain": {"schema": {"type": "string"}}}},
		"responses": {"200": {"description": "OK", "content": {
			"application/json": {"schema": {"type": ["string", "null"], "format": "text"}},
			"application/vnd.pgrst.object+json": {"schema": {"type": ["string", "null"], "format": "text"}}}}}}}`)
	eqJSON(t, "whole binary body", at(doc, "paths", "/rpc/upload", "post", "requestBody"),
		`{"required": true, "content": {"application/octet-stream": {}}}`)
}

// Names that are not valid component keys or URL paths as they are.
func TestOpenAPI31Names(t *testing.T) {
	s := snapshot()
	add := func(name string, cols ...string) {
		r := &cache.Relation{Schema: "api", Name: name, Kind: cache.KindTable, Insertable: true}
		for i, c := range cols {
			r.Columns = append(r.Columns, &cache.Column{Name: c, Position: i + 1, Type: "text"})
		}
		s.Relations[r.QI()] = r
	}
	add("my table", "a/b~c", "select", "limit")
	add("my_table", "x")
	add("a.b", "c")
	add("a", "b.c")
	add("{x}")
	s.Finalize()
	doc := build31(t, s, cfg, nil)
	for path, key := range map[string]string{"/my%20table": "my_table_2", "/my_table": "my_table", "/a.b": "a.b", "/a": "a", "/%7Bx%7D": "_x_"} {
		if r := at(doc, "paths", path, "get", "responses", "200", "content", "application/vnd.pgrst.object+json", "schema", "$ref"); r != "#/components/schemas/"+key {
			t.Errorf("%s: %v, want schema %s", path, r, key)
		}
	}
	var filters []string
	for _, p := range at(doc, "paths", "/my%20table", "get", "parameters").([]any) {
		filters = append(filters, at(resolve(doc, at(p, "$ref").(string)), "name").(string))
	}
	selects := 0
	for _, f := range filters {
		if f == "select" {
			selects++
		}
	}
	if filters[0] != "a/b~c" || selects != 1 || slices.Contains(filters[:2], "limit") {
		t.Errorf("parameters of /my table: %v", filters)
	}
	// rowFilter.a.b.c twice: one keeps the name, the other is told apart.
	ab := at(doc, "paths", "/a.b", "get", "parameters").([]any)[0]
	a := at(doc, "paths", "/a", "get", "parameters").([]any)[0]
	if at(ab, "$ref") == at(a, "$ref") {
		t.Errorf("one component for two row filters: %v", at(a, "$ref"))
	}
}

func TestOpenAPI31ServerAndSecurity(t *testing.T) {
	for _, c := range []struct{ proxy, host, want string }{
		{"", "!4", "http://0.0.0.0:3000"},
		{"", "::1", "http://[::1]:3000"},
		{"https://api.example.com", "!4", "https://api.example.com"},
		{"HTTP://api.example.com/v1/", "!4", "http://api.example.com/v1"},
		{"https://api.example.com:8443/api", "!4", "https://api.example.com:8443/api"},
		{"ftp://api.example.com", "localhost", "http://localhost:3000"},
	} {
		cc := cfg
		cc.ProxyURI, cc.ServerHost = c.proxy, c.host
		if got := at(build31(t, snapshot(), cc, nil), "servers").([]any)[0]; at(got, "url") != c.want {
			t.Errorf("%q on %q: %v, want %s", c.proxy, c.host, got, c.want)
		}
	}
	c := cfg
	c.SecurityActive = true
	doc := build31(t, snapshot(), c, nil)
	eqJSON(t, "securitySchemes", at(doc, "components", "securitySchemes"), `{"JWT": {"type": "http", "scheme": "bearer",
		"bearerFormat": "JWT", "description": "A JWT sent as Authorization: Bearer <token>"}}`)
	eqJSON(t, "security", doc["security"], `[{"JWT": []}]`)
}

func TestOpenAPI31Empty(t *testing.T) {
	b, err := Build31(&cache.Snapshot{Relations: map[cache.QI]*cache.Relation{}}, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	json.Unmarshal(b, &doc)
	validate31(t, doc)
	if at(doc, "components", "schemas") != nil || at(doc, "paths", "/") == nil {
		t.Errorf("empty schema: %s", b)
	}
}

// The validator itself catches what it is meant to.
func TestOpenAPI31Validator(t *testing.T) {
	for what, mutate := range map[string]func(doc map[string]any){
		"dangling $ref": func(doc map[string]any) {
			delete(at(doc, "components", "schemas").(map[string]any), "items")
		},
		"parameter ref to a schema": func(doc map[string]any) {
			ps := at(doc, "paths", "/cheap", "get", "parameters").([]any)
			ps[0] = map[string]any{"$ref": "#/components/schemas/cheap"}
		},
		"duplicate parameter": func(doc map[string]any) {
			op := at(doc, "paths", "/cheap", "get").(map[string]any)
			ps := op["parameters"].([]any)
			op["parameters"] = append(ps, ps[0])
		},
		"a Swagger field": func(doc map[string]any) {
			at(doc, "paths", "/cheap", "get").(map[string]any)["produces"] = []any{"text/csv"}
		},
		"enum without null": func(doc map[string]any) {
			p := at(doc, "components", "schemas", "items", "properties", "feeling").(map[string]any)
			p["enum"] = []any{"sad", "happy"}
		},
	} {
		doc := build31(t, snapshot(), cfg, nil)
		mutate(doc)
		var c complaints
		validate31(&c, doc)
		if c.n == 0 {
			t.Errorf("validator misses: %s", what)
		}
	}
}
