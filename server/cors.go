package server

import (
	"net/http"
	"slices"
	"strings"

	"github.com/pgrest/pgrest/server/config"
)

// corsExposed are the response headers browsers may read (PostgREST's list).
const corsExposed = "Content-Encoding, Content-Location, Content-Range, Content-Type, Date, Location, Server, Transfer-Encoding, Range-Unit"

// corsMethods are the methods a preflight may ask for; PostgREST answers
// with all of them whatever was asked.
var corsMethods = []string{"GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS", "HEAD"}

// corsSimpleHeaders are always allowed on top of the requested ones.
var corsSimpleHeaders = []string{"Accept", "Accept-Language", "Content-Language"}

// cors applies PostgREST's CORS policy (references/api/cors) to requests
// that carry an Origin. Without server-cors-allowed-origins any origin gets
// "*"; with it, a listed origin is echoed with credentials allowed. A
// request the policy does not admit (an unlisted origin, a preflight for an
// unknown method or with a malformed header list) is served as if it were
// not a CORS request at all.
func (a *App) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" {
			next.ServeHTTP(w, r)
			return
		}
		allow, credentials, ok := corsOrigin(a.derivedFor(r).cfg, origin)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		if r.Method == http.MethodOptions {
			pre, ok := preflightHeaders(r)
			if !ok {
				next.ServeHTTP(w, r)
				return
			}
			h := w.Header()
			setCorsOrigin(h, allow, credentials)
			for _, kv := range pre {
				h.Set(kv[0], kv[1])
			}
			w.WriteHeader(http.StatusOK)
			return
		}
		setCorsOrigin(w.Header(), allow, credentials)
		w.Header().Set("Access-Control-Expose-Headers", corsExposed)
		next.ServeHTTP(w, r)
	})
}

func setCorsOrigin(h http.Header, allow string, credentials bool) {
	h.Set("Access-Control-Allow-Origin", allow)
	if credentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
}

// corsOrigin decides the Access-Control-Allow-Origin for origin, and
// whether the origin is admitted at all.
func corsOrigin(cfg *config.Config, origin string) (allow string, credentials, ok bool) {
	list := cfg.ServerCORSAllowedOrigins
	if len(list) == 0 {
		return "*", false, true
	}
	for _, o := range list {
		if strings.TrimSpace(o) == origin {
			return origin, true, true
		}
	}
	return "", false, false
}

// preflightHeaders answers a preflight: the allowed methods, the requested
// headers plus the simple ones, and how long the answer may be cached.
func preflightHeaders(r *http.Request) ([][2]string, bool) {
	method := r.Header.Get("Access-Control-Request-Method")
	if !slices.Contains(corsMethods, method) {
		return nil, false
	}
	out := [][2]string{{"Access-Control-Allow-Methods", strings.Join(corsMethods, ", ")}}
	if _, asked := r.Header["Access-Control-Request-Headers"]; asked {
		requested, ok := headerNameList(r.Header.Get("Access-Control-Request-Headers"))
		if !ok {
			return nil, false
		}
		allowed := append([]string{"Authorization"}, requested...)
		for _, s := range corsSimpleHeaders {
			if !slices.ContainsFunc(allowed, func(x string) bool { return strings.EqualFold(x, s) }) {
				allowed = append(allowed, s)
			}
		}
		out = append(out, [2]string{"Access-Control-Allow-Headers", strings.Join(allowed, ", ")})
	}
	return append(out, [2]string{"Access-Control-Max-Age", "86400"}), true
}

// headerNameList parses a comma-separated list of header names.
func headerNameList(v string) ([]string, bool) {
	if strings.TrimSpace(v) == "" {
		return nil, true
	}
	var names []string
	for _, n := range strings.Split(v, ",") {
		n = strings.TrimSpace(n)
		if n == "" || strings.IndexFunc(n, func(c rune) bool { return !isHeaderNameChar(c) }) >= 0 {
			return nil, false
		}
		names = append(names, n)
	}
	return names, true
}

// isHeaderNameChar is RFC 2616's token character.
func isHeaderNameChar(c rune) bool {
	return c >= 33 && c <= 126 && !strings.ContainsRune(`()<>@,;:\"/[]?={}`, c)
}
