package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/pgrest/pgrest/server/config"
)

func publicJWK(t *testing.T, pub any, kid string) json.RawMessage {
	t.Helper()
	k, err := jwk.FromRaw(pub)
	if err != nil {
		t.Fatal(err)
	}
	k.Set(jwk.KeyIDKey, kid)
	b, _ := json.Marshal(k)
	return b
}

// A1 through HTTP: a JWKS with an RSA and an EC key; valid tokens from both
// run as their role, tampered ones and ones signed by an unknown key fail.
func TestJWKSOverHTTP(t *testing.T) {
	db := NewDB(t, rlsFixture)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	stranger, _ := rsa.GenerateKey(rand.Reader, 2048)
	set, _ := json.Marshal(map[string]any{"keys": []json.RawMessage{publicJWK(t, &rsaKey.PublicKey, "r1"), publicJWK(t, &ecKey.PublicKey, "e1")}})
	p := StartPgrest(t, db, func(c *config.Config) { c.JWTSecret = string(set) })
	mint := func(m jwt.SigningMethod, key any, kid, role string) string {
		tok := jwt.NewWithClaims(m, jwt.MapClaims{"role": role, "exp": time.Now().Add(time.Hour).Unix()})
		tok.Header["kid"] = kid
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	rs := mint(jwt.SigningMethodRS256, rsaKey, "r1", "test_user")
	es := mint(jwt.SigningMethodES256, ecKey, "e1", "other_user")
	p.Get("/me?select=role", "Authorization: Bearer "+rs).Expect(t, 200).JSONEq(t, `[{"role":"test_user"}]`)
	p.Get("/me?select=role", "Authorization: Bearer "+es).Expect(t, 200).JSONEq(t, `[{"role":"other_user"}]`)
	parts := strings.Split(rs, ".")
	forged := parts[0] + "." + strings.TrimRight(b64(`{"role":"postgres","exp":9999999999}`), "=") + "." + parts[2]
	p.Get("/me", "Authorization: Bearer "+forged).ExpectError(t, 401, "PGRST301")
	p.Get("/me", "Authorization: Bearer "+mint(jwt.SigningMethodRS256, stranger, "r1", "test_user")).ExpectError(t, 401, "PGRST301")
	p.Get("/me", "Authorization: Bearer "+strings.Repeat("x", 200_000)).ExpectError(t, 401, "PGRST301")
}

func b64(s string) string {
	return strings.NewReplacer("+", "-", "/", "_").Replace(base64Std(s))
}

// A4: client-error-verbosity=minimal leaves details and hints out.
func TestClientErrorVerbosity(t *testing.T) {
	db := NewDB(t, readFixture)
	p := StartPgrest(t, db, func(c *config.Config) { c.ClientErrorVerbosity = "minimal" })
	m := p.Get("/itemz").Expect(t, 404).JSON(t).(map[string]any)
	if _, ok := m["hint"]; ok || m["code"] != "PGRST205" {
		t.Fatalf("minimal verbosity leaked: %v", m)
	}
	if _, ok := m["details"]; ok {
		t.Fatalf("minimal verbosity leaked: %v", m)
	}
}

// Injection attempts through every input: query keys and values, select,
// order, casts, JSON keys in paths and bodies, profile and Prefer headers,
// role names. Each gets a clean 4xx (or a harmless 2xx) and the data stays.
func TestInjectionAttempts(t *testing.T) {
	db := NewDB(t, writeFixture+`CREATE TABLE canary (id int); INSERT INTO canary VALUES (1); GRANT SELECT ON canary TO web_anon;`)
	p := StartPgrest(t, db, nil)
	evil := `x'); DROP TABLE canary; --`
	q := url.QueryEscape
	paths := []string{
		"/books?title=eq." + q(evil),
		"/books?title=in.(" + q(evil) + ")",
		"/books?" + q(evil) + "=eq.1",
		"/books?select=" + q(evil),
		"/books?select=title::" + q("text; DROP TABLE canary"),
		"/books?select=title->>" + q(evil),
		"/books?order=" + q(evil),
		"/books?or=(title.eq." + q(evil) + ")",
		"/books?title=fts(" + q(evil) + ").x",
		"/" + url.PathEscape(evil),
		"/books?select=authors!" + q(evil) + "(name)",
		"/books?limit=" + q("1; DROP TABLE canary"),
	}
	for _, path := range paths {
		r := p.Get(path)
		t.Logf("%d %s", r.Status, path)
		if r.Status >= 500 {
			t.Errorf("%s: %d %s", path, r.Status, r.Body)
		}
	}
	for _, h := range []string{"Accept-Profile: " + evil, "Prefer: timezone=" + evil, "Prefer: count=" + evil, "Range: " + evil, "Accept: " + evil} {
		if r := p.Get("/books", h); r.Status >= 500 {
			t.Errorf("header %q: %d %s", h, r.Status, r.Body)
		}
	}
	for _, body := range []string{`{"` + strings.ReplaceAll(evil, `"`, `\"`) + `":1}`, `{"title":"` + evil + `","author_id":1}`} {
		if r := p.Do("POST", "/books", body); r.Status >= 500 {
			t.Errorf("body %s: %d %s", body, r.Status, r.Body)
		}
	}
	p.Get("/books", bearer(t, `web_anon"; DROP TABLE canary; --`)).ExpectError(t, 401, "22023")
	p.Get("/canary").Expect(t, 200).JSONEq(t, `[{"id":1}]`)
	// The evil title was stored as data, verbatim.
	if n := count(t, p, "/books?title=eq."+q(evil)); n != 1 {
		t.Fatalf("the value was not stored verbatim: %d rows", n)
	}
}

func base64Std(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
