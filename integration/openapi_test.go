package integration

import (
	"encoding/json"
	"reflect"
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
