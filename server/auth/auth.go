// Package auth verifies the request's JWT and decides the database role it
// runs as (references/auth).
package auth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/golang-jwt/jwt/v5"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/pgrest/pgrest/apierr"
)

// Options are the jwt-* settings a Verifier is built from.
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
	// Anonymous is true when the request runs as the anonymous role, with
	// or without a token: PostgREST answers its permission errors with 401.
	Anonymous bool
	exp       time.Time
}

// Expires is the token's exp (zero when it has none): a long-lived
// response such as a realtime stream must end then.
func (r *Result) Expires() time.Time { return r.exp }

// Verifier checks bearer tokens (keys, algorithms, claims, audience) and
// picks the role; built once per configuration.
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

// New parses the secret (HMAC, JWK or JWKS) and the role claim path.
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
		rk = "$.role"
	}
	p, err := parsePath(rk)
	if err != nil {
		return nil, fmt.Errorf("failed to parse role-claim-key value (%s): %w", rk, err)
	}
	v.rolePath = p
	if o.CacheMaxEntries > 0 {
		v.cache, _ = lru.New[string, *Result](o.CacheMaxEntries)
	}
	if o.AnonRole != "" {
		v.anon = &Result{Role: o.AnonRole, Claims: map[string]any{"role": o.AnonRole}, ClaimsJSON: mustJSON(map[string]any{"role": o.AnonRole}), Anonymous: true}
	}
	return v, nil
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

// bearerToken extracts the credentials of a Bearer Authorization header.
// Another scheme is not a token at all (the request runs as anonymous);
// "Bearer" with nothing after it is an empty token.
func bearerToken(header string) (string, bool) {
	i := strings.IndexFunc(header, unicode.IsSpace)
	scheme, rest := header, ""
	if i >= 0 {
		scheme, rest = header[:i], header[i:]
	}
	if !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	return strings.TrimSpace(rest), true
}

// Sentinels that keyFor returns, so verify can tell the two key failures apart.
var (
	errNoSuitableKey = errors.New("no suitable key")
	errBadAlgorithm  = errors.New("unsupported algorithm")
	errUnsecured     = errors.New("unsecured token")
)

// Authenticate checks the Authorization header value.
func (v *Verifier) Authenticate(header string, now time.Time) (*Result, error) {
	tok, ok := bearerToken(header)
	if !ok {
		if v.anon == nil {
			return nil, apierr.AnonymousDisabled()
		}
		return v.anon, nil
	}
	if tok == "" {
		return nil, apierr.JWTDecodeError("Empty JWT is sent in Authorization header", "")
	}
	if v.cache != nil {
		if r, ok := v.cache.Get(tok); ok && (r.exp.IsZero() || now.Before(r.exp.Add(skew))) {
			return r, nil
		}
	}
	if v.hmac == nil && v.keys == nil {
		return nil, apierr.JWTSecretMissing()
	}
	claims, aerr := v.verify(tok)
	if aerr != nil {
		return nil, aerr
	}
	if aerr := v.checkClaims(claims, now); aerr != nil {
		return nil, aerr
	}
	role := v.opts.AnonRole
	if r, ok := lookup(map[string]any(claims), v.rolePath); ok {
		role = r
	}
	if role == "" {
		return nil, apierr.AnonymousDisabled()
	}
	res := &Result{Role: role, Claims: claims, ClaimsJSON: mustJSON(claims), Anonymous: role == v.opts.AnonRole}
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
		res.exp = exp.Time
	}
	if v.cache != nil {
		v.cache.Add(tok, res)
	}
	return res, nil
}

// verify checks the token's form and signature; the claims are checked
// after, in PostgREST's order and with its messages.
func (v *Verifier) verify(tok string) (jwt.MapClaims, *apierr.Error) {
	if n := strings.Count(tok, ".") + 1; n != 3 {
		return nil, apierr.JWTDecodeError("Expected 3 parts in JWT; got "+strconv.Itoa(n), "")
	}
	if len(tok) > 64*1024 {
		return nil, apierr.JWTDecodeError("JWT is too large", "")
	}
	claims := jwt.MapClaims{}
	parser := jwt.NewParser(jwt.WithoutClaimsValidation())
	_, err := parser.ParseWithClaims(tok, claims, v.keyFor)
	switch {
	case err == nil:
		return claims, nil
	case errors.Is(err, errUnsecured):
		// jose's own wording for an alg "none" token, which v16 passes on
		return nil, apierr.JWTDecodeError("Wrong or unsupported encoding algorithm", "JWT is unsecured but expected 'alg' was not 'none'")
	case errors.Is(err, errBadAlgorithm):
		return nil, apierr.JWTDecodeError("Wrong or unsupported encoding algorithm", "")
	case errors.Is(err, errNoSuitableKey):
		return nil, apierr.JWTDecodeError("No suitable key or wrong key type", "No suitable key was found to decode the JWT")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return nil, apierr.JWTDecodeError("No suitable key or wrong key type", "None of the keys was able to decode the JWT")
	case errors.Is(err, jwt.ErrTokenMalformed):
		if strings.Contains(err.Error(), "claims") {
			return nil, apierr.JWTClaimsError("Parsing claims failed")
		}
	}
	return nil, apierr.JWTDecodeError("JWT cryptographic operation failed", "")
}

// checkClaims validates exp, nbf, iat and aud with a 30 s skew. A claim of
// the wrong type is refused rather than ignored.
func (v *Verifier) checkClaims(c jwt.MapClaims, now time.Time) *apierr.Error {
	sec := now.Unix()
	lim := int64(skew / time.Second)
	for _, t := range []struct {
		name, msg string
		ok        func(int64) bool
	}{
		{"exp", "JWT expired", func(x int64) bool { return sec <= x+lim }},
		{"nbf", "JWT not yet valid", func(x int64) bool { return sec >= x-lim }},
		{"iat", "JWT issued at future", func(x int64) bool { return sec >= x-lim }},
	} {
		val, present := c[t.name]
		if !present {
			continue
		}
		f, isNum := val.(float64)
		if !isNum {
			return apierr.JWTClaimsError("The JWT '" + t.name + "' claim must be a number")
		}
		if !t.ok(int64(f)) {
			return apierr.JWTClaimsError(t.msg)
		}
	}
	ok, valid := audienceOK(c["aud"], v.opts.Audience)
	if !valid {
		return apierr.JWTClaimsError("The JWT 'aud' claim must be a string or an array of strings")
	}
	if !ok {
		return apierr.JWTClaimsError("JWT not in audience")
	}
	return nil
}

func (v *Verifier) methods() []string {
	if v.hmac != nil {
		return []string{"HS256", "HS384", "HS512"}
	}
	return []string{"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
}

// keyFor returns the verification keys for the token's algorithm; an HMAC
// token is only checked against a symmetric ("oct") key, which rules out
// algorithm confusion.
func (v *Verifier) keyFor(t *jwt.Token) (any, error) {
	alg, _ := t.Header["alg"].(string)
	if strings.EqualFold(alg, "none") {
		return nil, errUnsecured
	}
	if !slices.Contains(v.methods(), alg) {
		return nil, errBadAlgorithm
	}
	isHMAC := strings.HasPrefix(alg, "HS")
	if v.hmac != nil {
		if !isHMAC {
			return nil, errNoSuitableKey
		}
		return v.hmac, nil
	}
	kid, _ := t.Header["kid"].(string)
	var keys []jwt.VerificationKey
	for i := 0; i < v.keys.Len(); i++ {
		k, _ := v.keys.Key(i)
		if kid != "" && k.KeyID() != "" && k.KeyID() != kid {
			continue
		}
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
		return nil, errNoSuitableKey
	}
	return jwt.VerificationKeySet{Keys: keys}, nil
}

// audienceOK reports whether aud admits the configured audience, and
// whether aud has a valid form at all. Without jwt-aud, or with an absent,
// null or empty aud, any audience is accepted.
func audienceOK(aud any, want string) (ok, valid bool) {
	switch a := aud.(type) {
	case nil:
		return true, true
	case string:
		return want == "" || a == want, true
	case []any:
		match := want == "" || len(a) == 0
		for _, x := range a {
			s, isStr := x.(string)
			if !isStr {
				return false, false
			}
			match = match || s == want
		}
		return match, true
	}
	return false, false
}
