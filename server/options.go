package server

import (
	"net/http"
	"strings"

	"github.com/pgrest/pgrest/apierr"
	"github.com/pgrest/pgrest/cache"
	"github.com/pgrest/pgrest/request"
)

// allowed answers OPTIONS on a table, view or function with the methods
// it supports, from what the object can do, not from the role's grants
// (references/api/options).
func allowed(snap *cache.Snapshot, req *request.Request) (string, error) {
	qi := cache.QI{Schema: req.Schema, Name: req.Resource}
	if req.RPC {
		fns := snap.Functions[qi]
		if len(fns) == 0 {
			return "", apierr.NotFoundFunction("Could not find the function "+qi.String()+" in the schema cache", "", "")
		}
		for _, f := range fns {
			if f.Volatility != cache.Volatile {
				return "OPTIONS,GET,HEAD,POST", nil
			}
		}
		return "OPTIONS,POST", nil
	}
	rel := snap.Relations[qi]
	if rel == nil {
		return "", apierr.TableNotFound(req.Schema, req.Resource, "")
	}
	methods := []string{"OPTIONS", "GET", "HEAD"}
	if rel.Insertable {
		methods = append(methods, "POST")
	}
	if rel.Insertable && rel.Updatable && len(rel.PrimaryKey) > 0 {
		methods = append(methods, "PUT")
	}
	if rel.Updatable {
		methods = append(methods, "PATCH")
	}
	if rel.Deletable {
		methods = append(methods, "DELETE")
	}
	return strings.Join(methods, ","), nil
}

// writeInfo answers OPTIONS on a resource. Any origin may read it, whether
// or not the request is a CORS one.
func writeInfo(w http.ResponseWriter, methods string) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Allow", methods)
	w.WriteHeader(http.StatusOK)
}
