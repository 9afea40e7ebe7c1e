package server

import (
	"net/http"
	"strings"
)

// corsExposed are the response headers browsers may read (PostgREST's list).
const corsExposed = "Content-Encoding, Content-Location, Content-Range, Content-Type, Date, Location, Server, Transfer-Encoding, Range-Unit"

// cors answers preflight requests and adds CORS headers to requests that
// carry an Origin (references/api/cors). Without server-cors-allowed-origins
// every origin is allowed ("*"); an origin not in the list gets no CORS headers
// and the request is served as if it had none.
func (a *App) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" || !a.originAllowed(origin) {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		// Without a list every origin is allowed as "*"; a listed origin is
		// echoed with credentials allowed, as PostgREST's CORS policy does.
		if len(a.cfg.Load().ServerCORSAllowedOrigins) == 0 {
			h.Set("Access-Control-Allow-Origin", "*")
		} else {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			allowed := []string{"Authorization"}
			for _, rh := range strings.Split(r.Header.Get("Access-Control-Request-Headers"), ",") {
				if rh = strings.TrimSpace(rh); rh != "" && !strings.EqualFold(rh, "authorization") {
					allowed = append(allowed, rh)
				}
			}
			allowed = append(allowed, "Accept", "Accept-Language", "Content-Language")
			h.Set("Access-Control-Allow-Methods", "GET, POST, PATCH, PUT, DELETE, OPTIONS, HEAD")
			h.Set("Access-Control-Allow-Headers", strings.Join(allowed, ", "))
			h.Set("Access-Control-Max-Age", "86400")
			w.WriteHeader(http.StatusOK)
			return
		}
		h.Set("Access-Control-Expose-Headers", corsExposed)
		next.ServeHTTP(w, r)
	})
}

func (a *App) originAllowed(origin string) bool {
	list := a.cfg.Load().ServerCORSAllowedOrigins
	if len(list) == 0 {
		return true
	}
	for _, o := range list {
		if strings.TrimSpace(o) == origin {
			return true
		}
	}
	return false
}
