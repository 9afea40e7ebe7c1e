package integration

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/pgrest/pgrest/server/config"
)

const edgeFixture = `
CREATE TABLE vault (id int);
INSERT INTO vault VALUES (1);
GRANT SELECT ON vault TO test_user;
CREATE TABLE shelf (id int);
INSERT INTO shelf VALUES (1), (2);
GRANT SELECT ON shelf TO web_anon, test_user;
CREATE VIEW one_of_many AS SELECT (SELECT id FROM shelf) AS id;
GRANT SELECT ON one_of_many TO web_anon;
CREATE FUNCTION vary_on_cookie() RETURNS int LANGUAGE sql AS $$
  SELECT length(set_config('response.headers', '[{"Vary":"Cookie"}]', true)) * 0 $$;
GRANT EXECUTE ON FUNCTION vary_on_cookie() TO web_anon;
`

func edgeToken(t *testing.T, claims string) string {
	t.Helper()
	var c jwt.MapClaims
	if err := json.Unmarshal([]byte(claims), &c); err != nil {
		t.Fatal(err)
	}
	return "Authorization: Bearer " + token(t, c)
}

func expectJWTError(t *testing.T, r *Resp, code, message string) map[string]any {
	t.Helper()
	m := r.ExpectError(t, 401, code)
	if m["message"] != message {
		t.Fatalf("message %v, want %q", m["message"], message)
	}
	if got := r.Header.Get("WWW-Authenticate"); got != `Bearer error="invalid_token", error_description="`+message+`"` {
		t.Fatalf("WWW-Authenticate %q", got)
	}
	return m
}

// The bearer token's form and claims are refused with PostgREST's codes
// and messages; a token without a role runs as the anonymous role.
func TestEdgeJWTErrors(t *testing.T) {
	db := NewDB(t, edgeFixture)
	p := StartPgrest(t, db, nil)
	expectJWTError(t, p.Get("/shelf", "Authorization: Bearer "), "PGRST301", "Empty JWT is sent in Authorization header")
	// another scheme is no token at all
	p.Get("/shelf", "Authorization: Basic dXNlcjpwYXNz").Expect(t, 200)
	for _, c := range []struct{ claims, msg string }{
		{`{"role":"test_user","nbf":"soon"}`, "The JWT 'nbf' claim must be a number"},
		{`{"role":"test_user","iat":"then"}`, "The JWT 'iat' claim must be a number"},
		{`{"role":"test_user","exp":"never"}`, "The JWT 'exp' claim must be a number"},
		{`{"role":"test_user","aud":{"a":1}}`, "The JWT 'aud' claim must be a string or an array of strings"},
		{`{"role":"test_user","aud":["x",2]}`, "The JWT 'aud' claim must be a string or an array of strings"},
	} {
		expectJWTError(t, p.Get("/shelf", edgeToken(t, c.claims)), "PGRST303", c.msg)
	}
	future := time.Now().Add(time.Hour).Unix()
	expectJWTError(t, p.Get("/shelf", "Authorization: Bearer "+token(t, map[string]any{"iat": future})), "PGRST303", "JWT issued at future")
	expectJWTError(t, p.Get("/shelf", "Authorization: Bearer "+token(t, map[string]any{"nbf": future})), "PGRST303", "JWT not yet valid")

	wrong, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"role": "test_user"}).SignedString([]byte(strings.Repeat("k", 40)))
	m := expectJWTError(t, p.Get("/shelf", "Authorization: Bearer "+wrong), "PGRST301", "No suitable key or wrong key type")
	if m["details"] != "None of the keys was able to decode the JWT" {
		t.Fatalf("details %v", m["details"])
	}

	// permission denied: 401 for the anonymous role, with or without a
	// token, 403 for a role named in the token
	r := p.Get("/vault", edgeToken(t, `{"id":"nobody"}`))
	r.ExpectError(t, 401, "42501")
	if r.Header.Get("WWW-Authenticate") != "Bearer" {
		t.Fatalf("WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
	}
	p.Get("/vault", bearer(t, "other_user")).ExpectError(t, 403, "42501")
	p.Get("/vault", bearer(t, "test_user")).Expect(t, 200)
}

// With jwt-aud, a token for another audience is refused; one without an
// audience (absent, null or an empty list) is not.
func TestEdgeJWTAudience(t *testing.T) {
	db := NewDB(t, edgeFixture)
	p := StartPgrest(t, db, func(c *config.Config) { c.JWTAud = "shop" })
	for _, aud := range []string{`"shop"`, `["x","shop"]`, `[]`, `null`} {
		p.Get("/shelf", edgeToken(t, `{"role":"test_user","aud":`+aud+`}`)).Expect(t, 200)
	}
	for _, aud := range []string{`"shelf"`, `""`, `["x","y"]`} {
		expectJWTError(t, p.Get("/shelf", edgeToken(t, `{"role":"test_user","aud":`+aud+`}`)), "PGRST303", "JWT not in audience")
	}
}

// Without an anonymous role, a request without a token is challenged.
func TestEdgeNoAnonymousRole(t *testing.T) {
	db := NewDB(t, edgeFixture)
	p := StartPgrest(t, db, func(c *config.Config) { c.DBAnonRole = "" })
	r := p.Get("/shelf")
	r.ExpectError(t, 401, "PGRST302")
	if r.Header.Get("WWW-Authenticate") != "Bearer" {
		t.Fatalf("WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
	}
}

// Errors name their code in Proxy-Status and carry no Vary; other
// responses vary on Accept, Prefer and Range unless the database set Vary.
func TestEdgeErrorAndVaryHeaders(t *testing.T) {
	db := NewDB(t, edgeFixture)
	p := StartPgrest(t, db, nil)
	for path, code := range map[string]string{"/a/b/c": "PGRST125", "/shelves_and_more": "PGRST205", "/vault": "42501"} {
		r := p.Get(path)
		if got := r.Header.Get("Proxy-Status"); got != "PostgREST; error="+code {
			t.Errorf("%s: Proxy-Status %q", path, got)
		}
		if r.Header.Get("Content-Length") == "" || r.Header.Get("Vary") != "" {
			t.Errorf("%s: headers %v", path, r.Header)
		}
	}
	// a name too far from any table gets no hint
	if m := p.Get("/shxxxx").ExpectError(t, 404, "PGRST205"); m["hint"] != nil {
		t.Errorf("hint %v", m["hint"])
	}
	if m := p.Get("/shelv").ExpectError(t, 404, "PGRST205"); m["hint"] != "Perhaps you meant the table 'public.shelf'" {
		t.Errorf("hint %v", m["hint"])
	}
	if got := p.Get("/shelf").Expect(t, 200).Header.Get("Vary"); got != "Accept, Prefer, Range" {
		t.Errorf("Vary %q", got)
	}
	if got := p.Do("OPTIONS", "/shelf", "").Expect(t, 200).Header.Get("Vary"); got != "Accept, Prefer, Range" {
		t.Errorf("OPTIONS Vary %q", got)
	}
	if got := p.Get("/rpc/vary_on_cookie").Expect(t, 200).Header.Get("Vary"); got != "Cookie" {
		t.Errorf("Vary from response.headers %q", got)
	}
	// a subquery returning several rows is the view's fault, not the client's
	p.Get("/one_of_many").ExpectError(t, 500, "21000")
}

// Without server-cors-allowed-origins every origin is allowed with "*";
// OPTIONS on a resource is readable by any origin.
func TestEdgeCORSWildcard(t *testing.T) {
	db := NewDB(t, edgeFixture)
	p := StartPgrest(t, db, nil)
	r := p.Do("OPTIONS", "/shelf", "", "Origin: http://a.example", "Access-Control-Request-Method: PATCH",
		"Access-Control-Request-Headers: X-One, x-two").Expect(t, 200)
	for k, want := range map[string]string{
		"Access-Control-Allow-Origin":      "*",
		"Access-Control-Allow-Credentials": "",
		"Access-Control-Allow-Headers":     "Authorization, X-One, x-two, Accept, Accept-Language, Content-Language",
		"Access-Control-Max-Age":           "86400",
		"Allow":                            "",
	} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("preflight %s = %q, want %q", k, got, want)
		}
	}
	// a preflight for a method PostgREST does not serve is not answered as one
	r = p.Do("OPTIONS", "/shelf", "", "Origin: http://a.example", "Access-Control-Request-Method: TRACE").Expect(t, 200)
	if r.Header.Get("Access-Control-Allow-Methods") != "" || r.Header.Get("Allow") == "" {
		t.Errorf("failed preflight: %v", r.Header)
	}
	for _, h := range [][]string{nil, {"Origin: http://b.example"}} {
		r = p.Do("OPTIONS", "/shelf", "", h...).Expect(t, 200)
		if r.Header.Get("Access-Control-Allow-Origin") != "*" || r.Header.Get("Allow") == "" {
			t.Errorf("OPTIONS %v: %v", h, r.Header)
		}
	}
	r = p.Get("/shelf", "Origin: http://b.example").Expect(t, 200)
	if r.Header.Get("Access-Control-Allow-Origin") != "*" || r.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("GET with Origin: %v", r.Header)
	}
}

// Server-Timing lists jwt, parse, plan, transaction and response in that
// order, on every kind of request.
func TestEdgeServerTimingOrder(t *testing.T) {
	db := NewDB(t, edgeFixture)
	p := StartPgrest(t, db, func(c *config.Config) { c.ServerTimingEnabled = true })
	full := regexp.MustCompile(`^jwt;dur=[0-9]+\.[0-9], parse;dur=[0-9]+\.[0-9], plan;dur=[0-9]+\.[0-9], transaction;dur=[0-9]+\.[0-9], response;dur=[0-9]+\.[0-9]$`)
	for _, r := range []*Resp{p.Get("/shelf"), p.Do("HEAD", "/", "")} {
		if st := r.Header.Get("Server-Timing"); !full.MatchString(st) {
			t.Errorf("Server-Timing %q", st)
		}
	}
	info := regexp.MustCompile(`^jwt;dur=[0-9]+\.[0-9], parse;dur=[0-9]+\.[0-9], response;dur=[0-9]+\.[0-9]$`)
	if st := p.Do("OPTIONS", "/shelf", "").Header.Get("Server-Timing"); !info.MatchString(st) {
		t.Errorf("OPTIONS Server-Timing %q", st)
	}
}

// A view's primary key is its base table's, under the view's column names,
// even when the table is in a schema that is not exposed; it decides PUT
// and the OpenAPI key note. HEAD on the root does not render the document.
func TestEdgeViewPrimaryKey(t *testing.T) {
	db := NewDB(t, `
CREATE SCHEMA private;
CREATE TABLE private.stock (sku int, shop int, qty int, PRIMARY KEY (shop, sku));
CREATE VIEW stock_view AS SELECT qty, sku AS code, shop, sku FROM private.stock;
CREATE VIEW stock_no_key AS SELECT qty FROM private.stock;
GRANT ALL ON stock_view, stock_no_key TO web_anon;`)
	p := StartPgrest(t, db, nil)
	if got := p.Do("OPTIONS", "/stock_view", "").Expect(t, 200).Header.Get("Allow"); got != "OPTIONS,GET,HEAD,POST,PUT,PATCH,DELETE" {
		t.Errorf("Allow %q", got)
	}
	if got := p.Do("OPTIONS", "/stock_no_key", "").Expect(t, 200).Header.Get("Allow"); got != "OPTIONS,GET,HEAD,POST,PATCH,DELETE" {
		t.Errorf("Allow without a key column %q", got)
	}
	var doc struct {
		Definitions map[string]struct {
			Properties map[string]struct {
				Description string `json:"description"`
			} `json:"properties"`
		} `json:"definitions"`
	}
	if err := json.Unmarshal(p.Get("/").Expect(t, 200).Body, &doc); err != nil {
		t.Fatal(err)
	}
	props := doc.Definitions["stock_view"].Properties
	for col, key := range map[string]bool{"code": true, "shop": true, "sku": false, "qty": false} {
		if got := strings.Contains(props[col].Description, "Primary Key"); got != key {
			t.Errorf("%s: primary key note %v, want %v", col, got, key)
		}
	}
	r := p.Do("HEAD", "/", "").Expect(t, 200)
	if _, ok := r.Header["Content-Length"]; ok || len(r.Body) != 0 {
		t.Errorf("HEAD /: %v", r.Header)
	}
}

// PUT takes its one row as an object or as an array of one.
func TestEdgePutArrayOfOne(t *testing.T) {
	db := NewDB(t, `CREATE TABLE langs (name text PRIMARY KEY, rank int); GRANT ALL ON langs TO web_anon;`)
	p := StartPgrest(t, db, nil)
	ct := "Content-Type: application/json"
	p.Do("PUT", "/langs?name=eq.Go", `[{"name":"Go","rank":7}]`, ct, "Prefer: return=representation").
		Expect(t, 201).JSONEq(t, `[{"name":"Go","rank":7}]`) // inserted
	p.Do("PUT", "/langs?name=eq.Go", `[{"name":"Go","rank":8}]`, ct, "Prefer: return=representation").
		Expect(t, 200).JSONEq(t, `[{"name":"Go","rank":8}]`) // updated
}

// A view over views, some of them in a schema that is not exposed, still
// embeds through the foreign keys of the tables underneath.
func TestEdgeViewChainRelationships(t *testing.T) {
	db := NewDB(t, `
CREATE SCHEMA hidden;
CREATE TABLE hidden.buyers (id int PRIMARY KEY, name text);
CREATE TABLE hidden.sales (id int PRIMARY KEY, buyer int REFERENCES hidden.buyers, total int);
INSERT INTO hidden.buyers VALUES (1, 'ann');
INSERT INTO hidden.sales VALUES (10, 1, 5);
CREATE VIEW buyers_base AS SELECT * FROM hidden.buyers;
CREATE VIEW hidden.buyers_mid AS SELECT id AS id, name FROM buyers_base;
CREATE VIEW buyers_top AS SELECT * FROM hidden.buyers_mid;
CREATE VIEW sales_v AS SELECT id, buyer, total FROM hidden.sales;
GRANT USAGE ON SCHEMA hidden TO web_anon;
GRANT SELECT ON ALL TABLES IN SCHEMA hidden, public TO web_anon;`)
	p := StartPgrest(t, db, nil)
	p.Get("/buyers_top?select=name,sales_v(total)").Expect(t, 200).JSONEq(t, `[{"name":"ann","sales_v":[{"total":5}]}]`)
	p.Get("/sales_v?select=total,buyers_top(name)").Expect(t, 200).JSONEq(t, `[{"total":5,"buyers_top":{"name":"ann"}}]`)
	// the key comes through the views too
	if got := p.Do("OPTIONS", "/buyers_top", "").Expect(t, 200).Header.Get("Allow"); got != "OPTIONS,GET,HEAD,POST,PUT,PATCH,DELETE" {
		t.Errorf("Allow %q", got)
	}
}
