package integration

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pgrest/pgrest/server/config"
)

const openAPIFixture = `
COMMENT ON SCHEMA public IS 'Shop API
A shop.';
CREATE TYPE mood AS ENUM ('sad', 'happy');
CREATE TABLE categories (id bigint PRIMARY KEY, name text NOT NULL);
CREATE TABLE items (
  id serial PRIMARY KEY,
  name varchar(20) NOT NULL DEFAULT 'none',
  price numeric(10,2),
  tags text[],
  feeling mood,
  category_id bigint REFERENCES categories(id)
);
COMMENT ON TABLE items IS 'Items
Everything we sell';
COMMENT ON COLUMN items.name IS 'the name';
CREATE VIEW item_names AS SELECT DISTINCT name FROM items;
CREATE VIEW item_categories AS SELECT id, category_id FROM items;
CREATE TABLE item_details (id int PRIMARY KEY REFERENCES items(id), note text);
CREATE TABLE secrets (id int PRIMARY KEY);
CREATE TABLE parts (id int) PARTITION BY RANGE (id);
CREATE TABLE parts_low PARTITION OF parts FOR VALUES FROM (0) TO (10);
CREATE FUNCTION add(a int, b int DEFAULT 1) RETURNS int LANGUAGE sql STABLE AS 'SELECT a + b';
COMMENT ON FUNCTION add(int, int) IS 'Adds
Two numbers';
CREATE FUNCTION moods(m mood) RETURNS mood LANGUAGE sql STABLE AS 'SELECT m';
CREATE FUNCTION reset_all() RETURNS void LANGUAGE sql AS '';
REVOKE EXECUTE ON FUNCTION reset_all() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reset_all() TO test_user;
GRANT SELECT ON items, categories, item_names, item_categories, item_details, parts TO web_anon;
GRANT ALL ON secrets TO test_user;
`

func openAPIDoc(t *testing.T, r *Resp) map[string]any {
	t.Helper()
	r.Expect(t, 200)
	if ct := r.Header.Get("Content-Type"); ct != "application/openapi+json; charset=utf-8" {
		t.Fatalf("Content-Type %q", ct)
	}
	var doc map[string]any
	if err := json.Unmarshal(r.Body, &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, r.Body)
	}
	return doc
}

// dig walks a decoded document by keys; nil when a key is missing.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func sameJSON(t *testing.T, what string, got any, want string) {
	t.Helper()
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want for %s: %v", what, err)
	}
	if !reflect.DeepEqual(got, w) {
		g, _ := json.Marshal(got)
		t.Errorf("%s\n got: %s\nwant: %s", what, g, want)
	}
}

func methods(doc map[string]any, path string) string {
	p, _ := dig(doc, "paths", path).(map[string]any)
	var ms []string
	for _, m := range []string{"get", "post", "patch", "delete"} {
		if p[m] != nil {
			ms = append(ms, m)
		}
	}
	return strings.Join(ms, ",")
}

// O1: the document PostgREST serves at /, for the anonymous role.
func TestOpenAPIRoot(t *testing.T) {
	db := NewDB(t, openAPIFixture)
	p := StartPgrest(t, db, nil)
	doc := openAPIDoc(t, p.Get("/"))
	if doc["swagger"] != "2.0" || dig(doc, "info", "title") != "Shop API" || dig(doc, "info", "description") != "A shop." {
		t.Errorf("swagger/info: %v %v", doc["swagger"], doc["info"])
	}
	if doc["host"] != "0.0.0.0:3000" || doc["basePath"] != "/" {
		t.Errorf("host %v basePath %v", doc["host"], doc["basePath"])
	}
	for path, want := range map[string]string{
		"/":              "get",
		"/items":         "get,post,patch,delete",
		"/categories":    "get,post,patch,delete",
		"/item_names":    "get",
		"/parts":         "get,post,patch,delete",
		"/rpc/add":       "get,post",
		"/rpc/moods":     "get,post",
		"/secrets":       "",
		"/parts_low":     "",
		"/rpc/reset_all": "",
	} {
		if got := methods(doc, path); got != want {
			t.Errorf("%s: %q, want %q", path, got, want)
		}
	}
	sameJSON(t, "items", dig(doc, "definitions", "items"), `{
		"type": "object", "description": "Items\nEverything we sell", "required": ["id", "name"],
		"properties": {
			"id": {"type": "integer", "format": "int32", "description": "Note:\nThis is a Primary Key.<pk/>"},
			"name": {"type": "string", "format": "character varying", "maxLength": 20, "default": "none",
				"description": "the name"},
			"price": {"type": "number", "format": "numeric"},
			"tags": {"type": "array", "format": "text[]", "items": {"type": "string"}},
			"feeling": {"type": "string", "format": "public.mood", "enum": ["sad", "happy"]},
			"category_id": {"type": "integer", "format": "int64",
				"description": "Note:\nThis is a Foreign Key to `+"`categories.id`"+`.<fk table='categories' column='id'/>"}}}`)
	// A one-to-one key is noted on the end that holds it; a view inherits
	// its table's foreign key.
	for _, c := range [][3]string{
		{"item_details", "id", "Note:\nThis is a Primary Key.<pk/>\nThis is a Foreign Key to `items.id`.<fk table='items' column='id'/>"},
		{"item_categories", "category_id", "Note:\nThis is a Foreign Key to `categories.id`.<fk table='categories' column='id'/>"},
	} {
		if d := dig(doc, "definitions", c[0], "properties", c[1], "description"); d != c[2] {
			t.Errorf("%s.%s: description %q", c[0], c[1], d)
		}
	}
	if s := dig(doc, "paths", "/items", "get", "summary"); s != "Items" {
		t.Errorf("summary %v", s)
	}
	sameJSON(t, "/rpc/add get parameters", dig(doc, "paths", "/rpc/add", "get", "parameters"), `[
		{"name": "a", "required": true, "in": "query", "type": "integer", "format": "int32"},
		{"name": "b", "required": false, "in": "query", "type": "integer", "format": "int32"}]`)
	sameJSON(t, "/rpc/add post body", dig(doc, "paths", "/rpc/add", "post", "parameters").([]any)[0], `
		{"name": "args", "required": true, "in": "body", "schema": {"type": "object", "description": "Adds\nTwo numbers",
			"required": ["a"], "properties": {"a": {"type": "integer", "format": "int32"}, "b": {"type": "integer", "format": "int32"}}}}`)
	// Under follow-privileges PostgREST reads functions in the request, with
	// its search_path: types of the exposed schema are not qualified.
	if f := dig(dig(doc, "paths", "/rpc/moods", "get", "parameters").([]any)[0], "format"); f != "mood" {
		t.Errorf("follow-privileges parameter type %v", f)
	}
	if doc["security"] != nil || doc["securityDefinitions"] != nil {
		t.Error("security without openapi-security-active")
	}

	// The role a token names sees what it may access.
	doc = openAPIDoc(t, p.Get("/", bearer(t, "test_user")))
	if methods(doc, "/secrets") != "get,post,patch,delete" || methods(doc, "/rpc/reset_all") != "post" || methods(doc, "/items") != "" {
		t.Errorf("test_user: secrets %q reset_all %q items %q", methods(doc, "/secrets"), methods(doc, "/rpc/reset_all"), methods(doc, "/items"))
	}
}

// O1: media types, HEAD and OPTIONS on the root.
func TestOpenAPIRootNegotiation(t *testing.T) {
	db := NewDB(t, openAPIFixture)
	p := StartPgrest(t, db, nil)
	for _, accept := range []string{"application/openapi+json", "application/json", "*/*", "text/csv, application/json;q=0.5"} {
		openAPIDoc(t, p.Get("/", "Accept: "+accept))
	}
	p.Get("/", "Accept: text/csv").ExpectError(t, 406, "PGRST107")
	r := p.Do("HEAD", "/", "").Expect(t, 200)
	if cl := r.Header.Get("Content-Length"); cl != "" {
		t.Errorf("HEAD Content-Length %q", cl)
	}
	if len(r.Body) != 0 || r.Header.Get("Content-Type") != "application/openapi+json; charset=utf-8" {
		t.Errorf("HEAD: %q %q", r.Header.Get("Content-Type"), r.Body)
	}
	if got := p.Do("OPTIONS", "/", "").Expect(t, 200).Header.Get("Allow"); got != "OPTIONS,GET,HEAD" {
		t.Errorf("OPTIONS /: Allow %q", got)
	}
}

// O1: openapi-mode=ignore-privileges documents everything in the schema;
// the other settings shape the server part and security.
func TestOpenAPIRootSettings(t *testing.T) {
	db := NewDB(t, openAPIFixture)
	p := StartPgrest(t, db, func(c *config.Config) {
		c.OpenAPIMode = "ignore-privileges"
		c.OpenAPIServerProxyURI = "https://api.example.com:8443/shop"
		c.OpenAPISecurityActive = true
	})
	doc := openAPIDoc(t, p.Get("/"))
	if methods(doc, "/secrets") != "get,post,patch,delete" || methods(doc, "/rpc/reset_all") != "post" {
		t.Errorf("ignore-privileges: secrets %q reset_all %q", methods(doc, "/secrets"), methods(doc, "/rpc/reset_all"))
	}
	if f := dig(dig(doc, "paths", "/rpc/moods", "get", "parameters").([]any)[0], "format"); f != "public.mood" {
		t.Errorf("ignore-privileges parameter type %v", f)
	}
	if doc["host"] != "api.example.com:8443" || doc["basePath"] != "/shop" || dig(doc, "schemes").([]any)[0] != "https" {
		t.Errorf("proxy: host %v basePath %v schemes %v", doc["host"], doc["basePath"], doc["schemes"])
	}
	sameJSON(t, "security", doc["security"], `[{"JWT": []}]`)
	sameJSON(t, "securityDefinitions", doc["securityDefinitions"], `{"JWT": {"type": "apiKey", "in": "header",
		"name": "Authorization", "description": "Add the token prepending \"Bearer \" (without quotes) to it"}}`)
}

// O1: Accept-Profile picks the schema described.
func TestOpenAPIRootProfile(t *testing.T) {
	db := NewDB(t, openAPIFixture+`
CREATE SCHEMA v2;
CREATE TABLE v2.gadgets (id int);
GRANT USAGE ON SCHEMA v2 TO web_anon;
GRANT SELECT ON v2.gadgets TO web_anon;`)
	p := StartPgrest(t, db, func(c *config.Config) { c.DBSchemas = []string{"public", "v2"} })
	r := p.Get("/", "Accept-Profile: v2")
	doc := openAPIDoc(t, r)
	if methods(doc, "/gadgets") != "get,post,patch,delete" || methods(doc, "/items") != "" {
		t.Errorf("v2: gadgets %q items %q", methods(doc, "/gadgets"), methods(doc, "/items"))
	}
	if dig(doc, "info", "title") != "PostgREST API" || r.Header.Get("Content-Profile") != "v2" {
		t.Errorf("v2 title %v, Content-Profile %q", dig(doc, "info", "title"), r.Header.Get("Content-Profile"))
	}
}

// O1: openapi-mode=disabled turns the root off.
func TestOpenAPIRootDisabled(t *testing.T) {
	db := NewDB(t, openAPIFixture)
	p := StartPgrest(t, db, func(c *config.Config) { c.OpenAPIMode = "disabled" })
	e := p.Get("/").ExpectError(t, 404, "PGRST126")
	if e["message"] != "Root endpoint metadata is disabled" || e["details"] != nil || e["hint"] != nil {
		t.Errorf("body %v", e)
	}
}

// O1: db-root-spec serves a function at / as GET /rpc/<fn> would.
func TestOpenAPIRootSpec(t *testing.T) {
	db := NewDB(t, `
CREATE DOMAIN "application/openapi+json" AS json;
CREATE FUNCTION root(title text DEFAULT 'mine') RETURNS "application/openapi+json" LANGUAGE sql STABLE
  AS $$ SELECT json_build_object('swagger', '2.0', 'info', json_build_object('title', title)) $$;
CREATE FUNCTION api_root() RETURNS json LANGUAGE sql STABLE AS $$ SELECT '{"hello": "json"}'::json $$;`)
	p := StartPgrest(t, db, func(c *config.Config) { c.DBRootSpec = "root" })
	r := p.Get("/", "Accept: application/openapi+json").Expect(t, 200)
	r.JSONEq(t, `{"swagger": "2.0", "info": {"title": "mine"}}`)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/openapi+json") {
		t.Errorf("Content-Type %q", ct)
	}

	p = StartPgrest(t, db, func(c *config.Config) { c.DBRootSpec = "public.api_root"; c.OpenAPIMode = "disabled" })
	p.Get("/").Expect(t, 200).JSONEq(t, `{"hello": "json"}`)
	if got := p.Do("OPTIONS", "/", "").Expect(t, 200).Header.Get("Allow"); got != "OPTIONS,GET,HEAD,POST" {
		t.Errorf("OPTIONS / with db-root-spec: Allow %q", got)
	}
}

const openAPI31Type = "application/openapi+json; version=3.1; charset=utf-8"

func openAPI31Doc(t *testing.T, r *Resp) map[string]any {
	t.Helper()
	r.Expect(t, 200)
	if ct := r.Header.Get("Content-Type"); ct != openAPI31Type {
		t.Fatalf("Content-Type %q", ct)
	}
	var doc map[string]any
	if err := json.Unmarshal(r.Body, &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, r.Body)
	}
	if doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi %v", doc["openapi"])
	}
	checkRefs(t, doc)
	return doc
}

// checkRefs: every $ref points inside the document, and the operations
// refer to components (the package's own test checks the rest).
func checkRefs(t *testing.T, doc map[string]any) {
	t.Helper()
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if r, ok := x["$ref"].(string); ok {
				if !strings.HasPrefix(r, "#/components/") || dig(doc, strings.Split(strings.TrimPrefix(r, "#/"), "/")...) == nil {
					t.Errorf("$ref %s does not resolve", r)
				}
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(doc)
}

// sameOperations: the 3.1 document shows what the 2.0 one does, but GET
// of the functions that take the whole body (wholeBody), which 2.0 lists
// though no GET can call them.
func sameOperations(t *testing.T, who string, d20, d31 map[string]any, wholeBody ...string) {
	t.Helper()
	for path := range d20["paths"].(map[string]any) {
		want := methods(d20, path)
		if slices.Contains(wholeBody, path) {
			want = strings.TrimPrefix(want, "get,")
		}
		if path == "/" {
			want += ",post" // batches (pgrest-only) are in the 3.1 document only
		}
		if got := methods(d31, path); got != want {
			t.Errorf("%s: %s: 3.1 %q, want %q", who, path, got, want)
		}
	}
	if n, m := len(d31["paths"].(map[string]any)), len(d20["paths"].(map[string]any)); n != m {
		t.Errorf("%s: %d paths in 3.1, %d in 2.0", who, n, m)
	}
}

// O6: the OpenAPI 3.1 rendering is served only to who asks for it.
func TestOpenAPI31Negotiation(t *testing.T) {
	db := NewDB(t, openAPIFixture)
	p := StartPgrest(t, db, nil)
	for _, accept := range []string{
		"application/openapi+json;version=3.1",
		"application/vnd.oai.openapi+json;version=3.1",
		`application/openapi+json; version="3.1.0"`,
		"application/json, application/openapi+json;version=3.1", // as preferred: the one named wins
		"application/json;q=0.5, application/vnd.oai.openapi+json;version=3.1;q=0.9",
	} {
		openAPI31Doc(t, p.Get("/", "Accept: "+accept))
	}
	for _, accept := range []string{
		"", "*/*", "application/json", "application/openapi+json",
		"application/openapi+json;version=3.0",
		"application/openapi+json;version=2.0",
		"application/openapi+json;version=3.1;q=0.5, application/json",
		"application/openapi+json;version=3.1;q=0", // still application/openapi+json, as PostgREST reads it
	} {
		h := []string{}
		if accept != "" {
			h = append(h, "Accept: "+accept)
		}
		if doc := openAPIDoc(t, p.Get("/", h...)); doc["swagger"] != "2.0" {
			t.Errorf("Accept %q: %v", accept, doc["swagger"])
		}
	}
	for _, accept := range []string{"application/vnd.oai.openapi+json", "application/vnd.oai.openapi+json;version=3.0", "text/csv"} {
		p.Get("/", "Accept: "+accept).ExpectError(t, 406, "PGRST107")
	}
	r := p.Do("HEAD", "/", "", "Accept: application/openapi+json;version=3.1").Expect(t, 200)
	if len(r.Body) != 0 || r.Header.Get("Content-Type") != openAPI31Type {
		t.Errorf("HEAD: %q %q", r.Header.Get("Content-Type"), r.Body)
	}
}

// O6: the same tables, views and functions as the 2.0 document, in 3.1's
// terms, for the anonymous role and for a role a token names.
func TestOpenAPI31Root(t *testing.T) {
	db := NewDB(t, openAPIFixture+`
CREATE FUNCTION cheap_items(max numeric) RETURNS SETOF items LANGUAGE sql STABLE AS 'SELECT * FROM items WHERE price <= max';
CREATE FUNCTION names() RETURNS TABLE (name text, n int) LANGUAGE sql STABLE AS 'SELECT name::text, 1 FROM items';
CREATE FUNCTION echo(text) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT $1';`)
	p := StartPgrest(t, db, nil)
	v31 := "Accept: application/openapi+json;version=3.1"
	doc := openAPI31Doc(t, p.Get("/", v31))
	sameOperations(t, "anonymous", openAPIDoc(t, p.Get("/")), doc, "/rpc/echo")
	if dig(doc, "info", "title") != "Shop API" || dig(doc, "info", "description") != "A shop." {
		t.Errorf("info %v", doc["info"])
	}
	sameJSON(t, "servers", doc["servers"], `[{"url": "http://0.0.0.0:3000"}]`)

	// A table: nullability in the type, enums, formats, comments.
	sameJSON(t, "items", dig(doc, "components", "schemas", "items"), `{
		"type": "object", "description": "Items\nEverything we sell",
		"properties": {
			"id": {"type": "integer", "format": "int32", "description": "Note:\nThis is a Primary Key.<pk/>"},
			"name": {"type": "string", "format": "character varying", "maxLength": 20, "default": "none",
				"description": "the name"},
			"price": {"type": ["number", "null"], "format": "numeric"},
			"tags": {"type": ["array", "null"], "format": "text[]", "items": {"type": "string"}},
			"feeling": {"type": ["string", "null"], "format": "public.mood", "enum": ["sad", "happy", null]},
			"category_id": {"type": ["integer", "null"], "format": "int64",
				"description": "Note:\nThis is a Foreign Key to `+"`categories.id`"+`.<fk table='categories' column='id'/>"}}}`)
	if ct := dig(doc, "paths", "/items", "post", "requestBody", "content").(map[string]any); len(ct) != 5 ||
		ct["application/json"] == nil || ct["text/csv"] == nil || ct["application/x-www-form-urlencoded"] == nil ||
		ct["application/x-ndjson"] == nil || ct["application/jsonl"] == nil {
		t.Errorf("POST /items bodies: %v", ct)
	}
	sameJSON(t, "GET /items 200", dig(doc, "paths", "/items", "get", "responses", "200", "content"), `{
		"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/items"}}},
		"application/vnd.pgrst.object+json": {"schema": {"$ref": "#/components/schemas/items"}},
		"application/x-ndjson": {"schema": {"$ref": "#/components/schemas/items"}},
		"application/jsonl": {"schema": {"$ref": "#/components/schemas/items"}},
		"text/csv": {"schema": {"type": "string"}}}`)
	sameJSON(t, "row filter", dig(doc, "components", "parameters", "rowFilter.items.name"),
		`{"name": "name", "in": "query", "required": false, "description": "the name", "schema": {"type": "string"}}`)

	// A view: read-only, its columns nullable.
	sameJSON(t, "item_names", dig(doc, "components", "schemas", "item_names"),
		`{"type": "object", "properties": {"name": {"type": ["string", "null"], "format": "character varying", "maxLength": 20}}}`)
	if dig(doc, "paths", "/item_categories", "get") == nil || dig(doc, "paths", "/item_names", "post") != nil {
		t.Error("views")
	}

	// Functions: arguments, and results as PostgREST returns them.
	sameJSON(t, "GET /rpc/add", dig(doc, "paths", "/rpc/add", "get", "parameters"), `[
		{"name": "a", "required": true, "in": "query", "schema": {"type": "integer", "format": "int32"}},
		{"name": "b", "required": false, "in": "query", "schema": {"type": "integer", "format": "int32"}}]`)
	sameJSON(t, "POST /rpc/add", dig(doc, "paths", "/rpc/add", "post", "requestBody"), `{"required": true, "content": {
		"application/json": {"schema": {"type": "object", "description": "Adds\nTwo numbers", "required": ["a"],
			"properties": {"a": {"type": "integer", "format": "int32"}, "b": {"type": "integer", "format": "int32"}}}}}}`)
	result := func(fn string) any {
		return dig(doc, "paths", "/rpc/"+fn, "get", "responses", "200", "content", "application/json", "schema")
	}
	sameJSON(t, "add result", result("add"), `{"type": ["integer", "null"], "format": "int32"}`)
	sameJSON(t, "SETOF items", result("cheap_items"), `{"type": "array", "items": {"$ref": "#/components/schemas/items"}}`)
	sameJSON(t, "RETURNS TABLE", result("names"), `{"type": "array", "items": {"type": "object", "properties": {
		"name": {"type": ["string", "null"], "format": "text"}, "n": {"type": ["integer", "null"], "format": "int32"}}}}`)
	if f := dig(dig(doc, "paths", "/rpc/moods", "get", "parameters").([]any)[0], "schema", "format"); f != "mood" {
		t.Errorf("follow-privileges parameter type %v", f)
	}
	sameJSON(t, "/rpc/echo", dig(doc, "paths", "/rpc/echo", "post", "requestBody"),
		`{"required": true, "content": {"text/plain": {"schema": {"type": "string"}}}}`)
	if dig(doc, "paths", "/rpc/echo", "get") != nil {
		t.Error("GET documented for a function taking the whole body")
	}
	// What the document says works.
	p.Get("/rpc/cheap_items?max=10").Expect(t, 200).JSONEq(t, `[]`)
	p.Do("POST", "/rpc/echo", "hi", "Content-Type: text/plain").Expect(t, 200).JSONEq(t, `"hi"`)

	// follow-privileges: the role a token names sees what it may access.
	doc = openAPI31Doc(t, p.Get("/", v31, bearer(t, "test_user")))
	sameOperations(t, "test_user", openAPIDoc(t, p.Get("/", bearer(t, "test_user"))), doc, "/rpc/echo")
	if methods(doc, "/secrets") != "get,post,patch,delete" || methods(doc, "/rpc/reset_all") != "post" || methods(doc, "/items") != "" {
		t.Errorf("test_user: secrets %q reset_all %q items %q", methods(doc, "/secrets"), methods(doc, "/rpc/reset_all"), methods(doc, "/items"))
	}
	if dig(doc, "components", "schemas", "items") != nil || dig(doc, "components", "parameters", "rowFilter.items.id") != nil {
		t.Error("test_user: components of a table it cannot access")
	}
	sameJSON(t, "void", dig(doc, "paths", "/rpc/reset_all", "post", "responses"), `{"204": {"description": "No Content"}}`)
}

// O6: ignore-privileges, the proxy URI and security in the 3.1 document.
func TestOpenAPI31RootSettings(t *testing.T) {
	db := NewDB(t, openAPIFixture)
	p := StartPgrest(t, db, func(c *config.Config) {
		c.OpenAPIMode = "ignore-privileges"
		c.OpenAPIServerProxyURI = "https://api.example.com:8443/shop"
		c.OpenAPISecurityActive = true
	})
	doc := openAPI31Doc(t, p.Get("/", "Accept: application/vnd.oai.openapi+json;version=3.1"))
	sameOperations(t, "ignore-privileges", openAPIDoc(t, p.Get("/")), doc)
	if methods(doc, "/secrets") != "get,post,patch,delete" || methods(doc, "/rpc/reset_all") != "post" {
		t.Errorf("ignore-privileges: secrets %q reset_all %q", methods(doc, "/secrets"), methods(doc, "/rpc/reset_all"))
	}
	if f := dig(dig(doc, "paths", "/rpc/moods", "get", "parameters").([]any)[0], "schema", "format"); f != "public.mood" {
		t.Errorf("ignore-privileges parameter type %v", f)
	}
	sameJSON(t, "servers", doc["servers"], `[{"url": "https://api.example.com:8443/shop"}]`)
	sameJSON(t, "security", doc["security"], `[{"JWT": []}]`)
	sameJSON(t, "securitySchemes", dig(doc, "components", "securitySchemes"), `{"JWT": {"type": "http", "scheme": "bearer",
		"bearerFormat": "JWT", "description": "A JWT sent as Authorization: Bearer <token>"}}`)
}
