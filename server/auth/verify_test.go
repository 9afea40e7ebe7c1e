package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/pgrest/pgrest/apierr"
)

const secret = "reallyreallyreallyreallyverysafe"

var now = time.Unix(1_800_000_000, 0)

func sign(t *testing.T, m jwt.SigningMethod, key any, claims jwt.MapClaims, kid string) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	payload = []byte(strings.Replace(string(payload), "test_user", "postgres!", 1))
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, ".")
}

func jwkJSON(t *testing.T, pub any, kid string) string {
	t.Helper()
	k, err := jwk.FromRaw(pub)
	if err != nil {
		t.Fatal(err)
	}
	if kid != "" {
		k.Set(jwk.KeyIDKey, kid)
	}
	b, _ := json.Marshal(k)
	return string(b)
}

func mustVerifier(t *testing.T, o Options) *Verifier {
	t.Helper()
	if o.AnonRole == "" {
		o.AnonRole = "web_anon"
	}
	v, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func claims() jwt.MapClaims {
	return jwt.MapClaims{"role": "test_user", "exp": now.Add(time.Hour).Unix()}
}

func expectOK(t *testing.T, v *Verifier, tok, role string) {
	t.Helper()
	r, err := v.Authenticate("Bearer "+tok, now)
	if err != nil {
		t.Fatalf("rejected: %v", err)
	}
	if r.Role != role {
		t.Fatalf("role %q, want %q", r.Role, role)
	}
}

func expectErr(t *testing.T, v *Verifier, tok, code string) {
	t.Helper()
	_, aerr := v.Authenticate("Bearer "+tok, now)
	err := apierr.As(aerr)
	if err == nil {
		t.Fatalf("accepted a token that should fail with %s", code)
	}
	if err.Code != code || err.Status != 401 {
		t.Fatalf("got %d %s (%s), want 401 %s", err.Status, err.Code, err.Message, code)
	}
	if err.Code != "PGRST302" && !strings.HasPrefix(err.Headers["WWW-Authenticate"], "Bearer") {
		t.Fatalf("no WWW-Authenticate header: %v", err.Headers)
	}
}

func TestVerifyHMAC(t *testing.T) {
	v := mustVerifier(t, Options{Secret: secret})
	for _, m := range []jwt.SigningMethod{jwt.SigningMethodHS256, jwt.SigningMethodHS384, jwt.SigningMethodHS512} {
		tok := sign(t, m, []byte(secret), claims(), "")
		expectOK(t, v, tok, "test_user")
		expectErr(t, v, tamper(tok), "PGRST301")
	}
	b64 := mustVerifier(t, Options{Secret: base64.StdEncoding.EncodeToString([]byte(secret)), SecretIsBase64: true})
	expectOK(t, b64, sign(t, jwt.SigningMethodHS256, []byte(secret), claims(), ""), "test_user")
	if _, err := New(Options{Secret: "too short"}); err == nil || !strings.Contains(err.Error(), "jwt-secret") {
		t.Fatalf("short secret: %v", err)
	}
}

func TestVerifyAsymmetricJWKS(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsaKey2, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)

	cases := []struct {
		name string
		m    jwt.SigningMethod
		priv crypto.Signer
		pub  any
	}{
		{"RS256", jwt.SigningMethodRS256, rsaKey, &rsaKey.PublicKey},
		{"RS512", jwt.SigningMethodRS512, rsaKey, &rsaKey.PublicKey},
		{"PS256", jwt.SigningMethodPS256, rsaKey, &rsaKey.PublicKey},
		{"ES256", jwt.SigningMethodES256, ecKey, &ecKey.PublicKey},
		{"EdDSA", jwt.SigningMethodEdDSA, edPriv, edPub},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := mustVerifier(t, Options{Secret: jwkJSON(t, c.pub, "")})
			tok := sign(t, c.m, c.priv, claims(), "")
			expectOK(t, v, tok, "test_user")
			expectErr(t, v, tamper(tok), "PGRST301")
		})
	}
	// A JWKS with two keys: by kid, and without kid by trying each.
	set := `{"keys":[` + jwkJSON(t, &rsaKey.PublicKey, "one") + "," + jwkJSON(t, &rsaKey2.PublicKey, "two") + `]}`
	v := mustVerifier(t, Options{Secret: set})
	expectOK(t, v, sign(t, jwt.SigningMethodRS256, rsaKey, claims(), "one"), "test_user")
	expectOK(t, v, sign(t, jwt.SigningMethodRS256, rsaKey2, claims(), "two"), "test_user")
	expectOK(t, v, sign(t, jwt.SigningMethodRS256, rsaKey2, claims(), ""), "test_user")
	expectErr(t, v, sign(t, jwt.SigningMethodRS256, rsaKey2, claims(), "one"), "PGRST301")

	// Algorithm confusion: an HS256 token whose "secret" is the RSA public key.
	pubDER, _ := json.Marshal(jwkJSON(t, &rsaKey.PublicKey, ""))
	expectErr(t, v, sign(t, jwt.SigningMethodHS256, pubDER, claims(), ""), "PGRST301")
}

func TestVerifyClaims(t *testing.T) {
	v := mustVerifier(t, Options{Secret: secret, Audience: "pgrest"})
	hs := func(c jwt.MapClaims) string { return sign(t, jwt.SigningMethodHS256, []byte(secret), c, "") }
	expectErr(t, v, hs(jwt.MapClaims{"role": "test_user", "exp": now.Add(-time.Minute).Unix()}), "PGRST303")
	expectOK(t, v, hs(jwt.MapClaims{"role": "test_user", "exp": now.Add(-10 * time.Second).Unix()}), "test_user") // within skew
	expectErr(t, v, hs(jwt.MapClaims{"role": "test_user", "nbf": now.Add(time.Minute).Unix()}), "PGRST303")
	expectErr(t, v, hs(jwt.MapClaims{"role": "test_user", "iat": now.Add(time.Minute).Unix()}), "PGRST303")
	expectErr(t, v, hs(jwt.MapClaims{"role": "test_user", "aud": "other"}), "PGRST303")
	expectOK(t, v, hs(jwt.MapClaims{"role": "test_user", "aud": []any{"x", "pgrest"}}), "test_user")
	expectOK(t, v, hs(jwt.MapClaims{"sub": "no role"}), "web_anon")
	expectErr(t, v, "not.a.jwt", "PGRST301")
	expectErr(t, v, strings.Repeat("a", 100_000)+".b.c", "PGRST301")

	// alg none is refused.
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claims()).SignedString(jwt.UnsafeAllowNoneSignatureType)
	expectErr(t, v, none, "PGRST301")

	// No anonymous role and no token.
	strict, _ := New(Options{Secret: secret})
	if _, err := strict.Authenticate("", now); err == nil || apierr.As(err).Code != "PGRST302" {
		t.Fatalf("anonymous without anon role: %v", err)
	}
	if r, err := v.Authenticate("", now); err != nil || r.Role != "web_anon" {
		t.Fatalf("anonymous: %v %v", r, err)
	}
}

func TestRoleClaimKey(t *testing.T) {
	c := jwt.MapClaims{"https://example.com/claims": map[string]any{"role": "nested"}, "roles": []any{"a", "b"}, "app": map[string]any{"r": "deep"},
		"prefixed": []any{"other", "pg_x", "x_admin", "amidb"},
		"grants": []any{map[string]any{"app": "web", "role": "web_role"}, map[string]any{"app": "db", "role": "db_role"},
			map[string]any{"app": "ops", "role": "admin_role", "admin": true}}}
	for key, want := range map[string]string{
		`."https://example.com/claims".role`:  "nested",
		".roles[1]":                           "b",
		".roles[-1]":                          "b",
		".app.r":                              "deep",
		".missing":                            "web_anon",
		`$.roles[?(@ == "b")]`:                "b",
		`.roles[?(@ != "a")]`:                 "b",
		`$.prefixed[?(@ ^== "pg_")]`:          "pg_x",
		`$.prefixed[?(@ ==^ "_admin")]`:       "x_admin",
		`$.prefixed[?(@ *== "mid")]`:          "amidb",
		`$.prefixed[?@ == "x_admin"]`:         "x_admin",
		`$.prefixed[?search(@, "^pg_")]`:      "pg_x",
		`$.prefixed[?match(@, "x_.*")]`:       "x_admin",
		`$['app']["r"]`:                       "deep",
		`$.roles[?(@ == "zzz")]`:              "web_anon",
		`$.roles[*]`:                          "a",
		`$.app.*`:                             "deep",
		`$..r`:                                "deep",
		`$..[?(@ == "x_admin")]`:              "x_admin",
		`$.roles[1:]`:                         "b",
		`$.roles[::-1]`:                       "b",
		`$.prefixed[-2:]`:                     "x_admin",
		`$.prefixed[3, 1]`:                    "amidb",
		`$['nope', 'roles'][0]`:               "a",
		`$.grants[?@.app == "db"].role`:       "db_role",
		`$.grants[?(@.admin)].role`:           "admin_role",
		`$.grants[?search(@.app, "^w")].role`: "web_role",
	} {
		v := mustVerifier(t, Options{Secret: secret, RoleClaimKey: key})
		expectOK(t, v, sign(t, jwt.SigningMethodHS256, []byte(secret), c, ""), want)
	}
	for _, bad := range []string{"role", "$.my_role;;domain", `.roles[?(@ ~= "x")]`, `.roles[?(@ == x)]`, ".roles[", `$.a[?match(@, "(")]`, "$..", "$.a[1:2:3:4]", "$.a[x]"} {
		if _, err := New(Options{Secret: secret, RoleClaimKey: bad}); err == nil {
			t.Errorf("role claim key %q must be refused", bad)
		}
	}
}

func TestVerifyCache(t *testing.T) {
	v := mustVerifier(t, Options{Secret: secret, CacheMaxEntries: 10})
	tok := sign(t, jwt.SigningMethodHS256, []byte(secret), claims(), "")
	a, _ := v.Authenticate("Bearer "+tok, now)
	b, _ := v.Authenticate("Bearer "+tok, now)
	if a != b {
		t.Fatal("a repeated token was verified again instead of served from the cache")
	}
	if _, err := v.Authenticate("Bearer "+tok, now.Add(2*time.Hour)); err == nil {
		t.Fatal("the cache served a token past its expiry")
	}
}
