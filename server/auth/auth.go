// Package auth verifies the request's JWT and decides the database role it
// runs as (references/auth).
package auth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/pgrest/pgrest/server/apierr"
)

type Options struct {
	Secret          string
	SecretIsBase64  bool
	Audience        string
	RoleClaimKey    string
	AnonRole        string
	CacheMaxEntries int
}

// Result is who the request runs as.
type Result struct {
	Role       string
	Claims     map[string]any
	ClaimsJSON []byte
	exp        time.Time
}

type Verifier struct {
	opts     Options
	hmac     []byte
	keys     jwk.Set
	rolePath []pathStep
	cache    *lru.Cache[string, *Result]
	anon     *Result
}

// skew tolerates clocks that disagree a little (PostgREST allows 30 s).
const skew = 30 * time.Second

func New(o Options) (*Verifier, error) {
	v := &Verifier{opts: o}
	s := strings.TrimSpace(o.Secret)
	switch {
	case s == "":
	case strings.HasPrefix(s, "{"):
		set, err := jwk.Parse([]byte(s))
		if err != nil {
			return nil, fmt.Errorf("invalid value for jwt-secret: not a JWK or JWKS: %w", err)
		}
		v.keys = set
	case o.SecretIsBase64:
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			if b, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "=")); err != nil {
				return nil, fmt.Errorf("invalid value for jwt-secret: not base64")
			}
		}
		v.hmac = b
	default:
		if len(o.Secret) < 32 {
			return nil, fmt.Errorf("invalid value for jwt-secret: must be at least 32 characters long")
		}
		v.hmac = []byte(o.Secret)
	}
	rk := o.RoleClaimKey
	if rk == "" {
		rk = ".role"
	}
	p, err := parsePath(rk)
	if err != nil {
		return nil, fmt.Errorf("invalid value for jwt-role-claim-key: %q: %w", rk, err)
	}
	v.rolePath = p
	if o.CacheMaxEntries > 0 {
		v.cache, _ = lru.New[string, *Result](o.CacheMaxEntries)
	}
	if o.AnonRole != "" {
		v.anon = &Result{Role: o.AnonRole, Claims: map[string]any{"role": o.AnonRole}, ClaimsJSON: mustJSON(map[string]any{"role": o.AnonRole})}
	}
	return v, nil
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

func unauthorized(code, msg string) *apierr.Error {
	e := apierr.New(http.StatusUnauthorized, code, msg, "", "")
	desc := strings.ReplaceAll(msg, `"`, `'`)
	e.Headers = map[string]string{"WWW-Authenticate": `Bearer error="invalid_token", error_description="` + desc + `"`}
	return e
}

// Authenticate checks the Authorization header value.
func (v *Verifier) Authenticate(header string, now time.Time) (*Result, *apierr.Error) {
	if header == "" {
		if v.anon == nil {
			e := apierr.New(http.StatusUnauthorized, "PGRST302", "Anonymous access is disabled", "", "")
			e.Headers = map[string]string{"WWW-Authenticate": "Bearer"} // as PostgREST asks for a token
			return nil, e
		}
		return v.anon, nil
	}
	scheme, tok, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") || strings.TrimSpace(tok) == "" {
		return nil, unauthorized("PGRST301", "Invalid Authorization header")
	}
	tok = strings.TrimSpace(tok)
	if v.cache != nil {
		if r, ok := v.cache.Get(tok); ok && (r.exp.IsZero() || now.Before(r.exp.Add(skew))) {
			return r, nil
		}
	}
	if v.hmac == nil && v.keys == nil {
		return nil, apierr.New(http.StatusInternalServerError, "PGRST300", "Server lacks JWT secret", "", "")
	}
	if len(tok) > 64*1024 {
		return nil, unauthorized("PGRST301", "JWT is too large")
	}
	claims := jwt.MapClaims{}
	parser := jwt.NewParser(jwt.WithValidMethods(v.methods()), jwt.WithLeeway(skew), jwt.WithTimeFunc(func() time.Time { return now }), jwt.WithIssuedAt())
	_, err := parser.ParseWithClaims(tok, claims, v.keyFor)
	if err != nil {
		switch {
		case errors.Is(err, jwt.ErrTokenExpired):
			return nil, unauthorized("PGRST303", "JWT expired")
		case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
			return nil, unauthorized("PGRST303", "JWT not yet valid")
		case errors.Is(err, jwt.ErrTokenMalformed):
			return nil, unauthorized("PGRST301", "Expected 3 parts in JWT; got "+fmt.Sprint(strings.Count(tok, ".")+1))
		}
		return nil, unauthorized("PGRST301", "No suitable key or wrong key type")
	}
	if v.opts.Audience != "" && !audienceOK(claims["aud"], v.opts.Audience) {
		return nil, unauthorized("PGRST303", "JWT not in audience")
	}
	role := v.opts.AnonRole
	if r, ok := lookup(map[string]any(claims), v.rolePath); ok {
		role = r
	}
	if role == "" {
		return nil, apierr.New(http.StatusUnauthorized, "PGRST302", "Anonymous access is disabled", "", "")
	}
	res := &Result{Role: role, Claims: claims, ClaimsJSON: mustJSON(claims)}
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
		res.exp = exp.Time
	}
	if v.cache != nil {
		v.cache.Add(tok, res)
	}
	return res, nil
}

func (v *Verifier) methods() []string {
	if v.hmac != nil {
		return []string{"HS256", "HS384", "HS512"}
	}
	return []string{"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
}

// keyFor returns the verification key; an HMAC token is only checked
// against a symmetric ("oct") key, which rules out algorithm confusion.
func (v *Verifier) keyFor(t *jwt.Token) (any, error) {
	alg, _ := t.Header["alg"].(string)
	if v.hmac != nil {
		return v.hmac, nil
	}
	kid, _ := t.Header["kid"].(string)
	var keys []jwt.VerificationKey
	for i := 0; i < v.keys.Len(); i++ {
		k, _ := v.keys.Key(i)
		if kid != "" && k.KeyID() != "" && k.KeyID() != kid {
			continue
		}
		isHMAC := strings.HasPrefix(alg, "HS")
		if isHMAC != (k.KeyType() == "oct") {
			continue
		}
		var raw any
		if err := k.Raw(&raw); err != nil {
			continue
		}
		keys = append(keys, raw)
	}
	if len(keys) == 0 {
		return nil, errors.New("no suitable key")
	}
	return jwt.VerificationKeySet{Keys: keys}, nil
}

func audienceOK(aud any, want string) bool {
	switch a := aud.(type) {
	case nil:
		return true // PostgREST accepts tokens without aud
	case string:
		return a == want
	case []any:
		for _, x := range a {
			if s, ok := x.(string); ok && s == want {
				return true
			}
		}
	}
	return false
}
