// Package openapi builds the OpenAPI document served on the root path,
// from a schema-cache snapshot and the catalog facts read in the request's
// transaction (see Catalog): the Swagger 2.0 one PostgREST serves (Build)
// and an OpenAPI 3.1 rendering of the same model (Build31).
//
// Objects are maps, so encoding/json writes their keys sorted, as
// PostgREST's encoder does.
package openapi

import (
	"bytes"
	"encoding/json"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Config is what the document depends on besides the schema.
type Config struct {
	Schema      string // the exposed schema described (Accept-Profile)
	Version     string // info.version
	DocsVersion string // the documentation version in externalDocs, e.g. "v16"
	// FollowPrivileges: describe only what the role may reach
	// (openapi-mode=follow-privileges); otherwise everything.
	FollowPrivileges bool
	SecurityActive   bool   // openapi-security-active
	ProxyURI         string // openapi-server-proxy-uri
	ServerHost       string
	ServerPort       int
}

type obj = map[string]any

func encode(doc any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// Descriptions carry <pk/> and <fk .../> notes: keep them readable.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func (m *model) externalDocs() obj {
	return obj{
		"description": "PostgREST Documentation",
		"url":         "https://postgrest.org/en/" + m.cfg.DocsVersion + "/references/api.html",
	}
}

// swaggerType maps a PostgreSQL type name to a Swagger type; "" (no type,
// any JSON value) for json and jsonb.
func swaggerType(t string) string {
	switch t {
	case "character varying", "character", "text":
		return "string"
	case "boolean":
		return "boolean"
	case "smallint", "integer", "bigint":
		return "integer"
	case "numeric", "real", "double precision":
		return "number"
	case "json", "jsonb":
		return ""
	}
	if strings.HasSuffix(t, "[]") {
		return "array"
	}
	return "string"
}

func swaggerFormat(t string) string {
	switch t {
	case "smallint", "integer":
		return "int32"
	case "bigint":
		return "int64"
	}
	return t
}

// defaultValue reads a column default as PostgREST does: string types
// lose their cast and quotes; anything that is not then a JSON value (a
// function call, a cast) gives no default.
func defaultValue(t, def string) json.RawMessage {
	s := def
	if swaggerType(t) == "string" {
		s = strings.Trim(strings.TrimSuffix(s, "::"+t), "'")
		s = `"` + s + `"`
	}
	if !json.Valid([]byte(s)) {
		return nil
	}
	return json.RawMessage(s)
}

// splitFirstLine splits a comment into its first line and the rest, less
// the blank lines that separate them.
func splitFirstLine(s string) (string, string) {
	first, rest, _ := strings.Cut(s, "\n")
	return first, strings.TrimLeft(rest, "\n")
}

// splitDescription gives an operation's summary and description.
func splitDescription(d *string) (*string, string) {
	if d == nil {
		return nil, ""
	}
	s, rest := splitFirstLine(*d)
	return &s, rest
}

// serverURI is the scheme, host, port and base path the document gives:
// from openapi-server-proxy-uri when it is a valid http(s) URI, otherwise
// the server's own address.
func serverURI(cfg Config) (scheme, host string, port int, base string) {
	if u := proxyURI(cfg.ProxyURI); u != nil {
		scheme = strings.ToLower(u.Scheme)
		port = 80
		if scheme == "https" {
			port = 443
		}
		if p := u.Port(); p != "" {
			port, _ = strconv.Atoi(p)
		}
		base = u.EscapedPath()
		if base == "" {
			base = "/"
		}
		return scheme, u.Hostname(), port, base
	}
	host = cfg.ServerHost
	switch host {
	case "*", "*4", "!4", "*6", "!6":
		host = "0.0.0.0"
	}
	return "http", host, cfg.ServerPort, "/"
}

// proxyURI parses openapi-server-proxy-uri; nil when unset or malformed
// (not absolute http or https, a query, user info, no host, a bad port).
func proxyURI(s string) *url.URL {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Opaque != "" || u.RawQuery != "" || u.ForceQuery || u.User != nil || u.Hostname() == "" {
		return nil
	}
	if sc := strings.ToLower(u.Scheme); sc != "http" && sc != "https" {
		return nil
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil
		}
	} else if _, _, err := net.SplitHostPort(u.Host); err == nil {
		return nil // "host:" with an empty port
	}
	return u
}
