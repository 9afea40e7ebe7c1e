package integration

import (
	"testing"

	"github.com/pgrest/pgrest/server/config"
)

// O2: OPTIONS lists what a table, view or function allows.
func TestOptions(t *testing.T) {
	db := NewDB(t, `
CREATE TABLE items (id int PRIMARY KEY, name text);
CREATE TABLE nokey (name text);
CREATE VIEW items_auto AS SELECT id, name FROM items;
CREATE VIEW items_names AS SELECT name FROM items;
CREATE VIEW items_ro AS SELECT DISTINCT name FROM items;
CREATE FUNCTION stable_fn() RETURNS int LANGUAGE sql STABLE AS 'SELECT 1';
CREATE FUNCTION volatile_fn() RETURNS int LANGUAGE sql AS 'SELECT 1';
`)
	p := StartPgrest(t, db, nil)
	for path, want := range map[string]string{
		"/items":           "OPTIONS,GET,HEAD,POST,PUT,PATCH,DELETE",
		"/nokey":           "OPTIONS,GET,HEAD,POST,PATCH,DELETE",
		"/items_ro":        "OPTIONS,GET,HEAD",
		"/rpc/stable_fn":   "OPTIONS,GET,HEAD,POST",
		"/rpc/volatile_fn": "OPTIONS,POST",
	} {
		r := p.Do("OPTIONS", path, "").Expect(t, 200)
		if got := r.Header.Get("Allow"); got != want {
			t.Errorf("OPTIONS %s: Allow = %q, want %q", path, got, want)
		}
	}
	// an auto-updatable view takes its table's key when it shows it (PUT),
	// not otherwise
	if got := p.Do("OPTIONS", "/items_auto", "").Expect(t, 200).Header.Get("Allow"); got != "OPTIONS,GET,HEAD,POST,PUT,PATCH,DELETE" {
		t.Errorf("auto-updatable view: Allow = %q", got)
	}
	if got := p.Do("OPTIONS", "/items_names", "").Expect(t, 200).Header.Get("Allow"); got != "OPTIONS,GET,HEAD,POST,PATCH,DELETE" {
		t.Errorf("auto-updatable view without the key: Allow = %q", got)
	}
	p.Do("OPTIONS", "/nothing", "").ExpectError(t, 404, "PGRST205")
	p.Do("OPTIONS", "/rpc/nothing", "").ExpectError(t, 404, "PGRST202")
}

// O2: CORS, permissive by default, restricted by server-cors-allowed-origins.
func TestCORS(t *testing.T) {
	db := NewDB(t, `CREATE TABLE items (id int); GRANT SELECT ON items TO web_anon;`)
	p := StartPgrest(t, db, nil)
	r := p.Do("OPTIONS", "/items", "", "Origin: http://example.com", "Access-Control-Request-Method: POST",
		"Access-Control-Request-Headers: Content-Type").Expect(t, 200)
	// without a list every origin is allowed as "*" (no credentials)
	for k, want := range map[string]string{
		"Access-Control-Allow-Origin":      "*",
		"Access-Control-Allow-Credentials": "",
		"Access-Control-Allow-Methods":     "GET, POST, PATCH, PUT, DELETE, OPTIONS, HEAD",
		"Access-Control-Allow-Headers":     "Authorization, Content-Type, Accept, Accept-Language, Content-Language",
		"Access-Control-Max-Age":           "86400",
	} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("preflight %s = %q, want %q", k, got, want)
		}
	}
	r = p.Get("/items", "Origin: http://example.com").Expect(t, 200)
	if r.Header.Get("Access-Control-Allow-Origin") != "*" || r.Header.Get("Access-Control-Expose-Headers") == "" {
		t.Errorf("simple request CORS headers: %v", r.Header)
	}
	if r := p.Get("/items").Expect(t, 200); r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Error("CORS headers without an Origin")
	}
	// an OPTIONS answer always allows any origin, as PostgREST's info responses
	if got := p.Do("OPTIONS", "/items", "").Expect(t, 200).Header.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("OPTIONS without Origin: %q", got)
	}

	// a listed origin is echoed, with credentials
	only := StartPgrest(t, db, func(c *config.Config) { c.ServerCORSAllowedOrigins = []string{"http://good.example"} })
	good := only.Get("/items", "Origin: http://good.example").Expect(t, 200)
	if got := good.Header.Get("Access-Control-Allow-Origin"); got != "http://good.example" || good.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("allowed origin: %q", got)
	}
	if got := only.Get("/items", "Origin: http://evil.example").Expect(t, 200).Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("disallowed origin got Access-Control-Allow-Origin %q", got)
	}
}
