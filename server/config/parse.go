package config

import (
	"encoding/base64"
	"fmt"
	"math"
	"math/big"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/pgrest/pgrest/server/auth"
)

// kind is how a key's value is read and written back.
type kind int

const (
	kString kind = iota
	kBool
	kInt
	kSeconds
	kList
	kOptInt
	kOptInt64
	kOctal
	kInt64
)

// key describes one configuration key: its type, allowed values and where
// it lives in Config. One table drives parsing, env lookup, --example and
// --dump-config so they cannot drift apart.
type key struct {
	name  string
	kind  kind
	enum  []string
	field func(c *Config) any
	doc   string
}

var keys = []key{
	{"admin-server-host", kString, nil, func(c *Config) any { return &c.AdminServerHost }, "host of the admin server (defaults to server-host)"},
	{"admin-server-port", kOptInt, nil, func(c *Config) any { return &c.AdminServerPort }, "port of the admin server (/live, /ready); off when unset"},
	{"admin-server-unix-socket", kString, nil, func(c *Config) any { return &c.AdminServerUnixSocket }, "serve the admin server on this unix socket instead"},
	{"admin-server-unix-socket-mode", kOctal, nil, func(c *Config) any { return &c.AdminServerUnixSocketMode }, "permissions of the admin unix socket"},
	{"client-error-verbosity", kString, []string{"verbose", "minimal"}, func(c *Config) any { return &c.ClientErrorVerbosity }, "verbose or minimal error bodies"},
	{"db-aggregates-enabled", kBool, nil, func(c *Config) any { return &c.DBAggregatesEnabled }, "allow count(), sum() … in select"},
	{"db-anon-role", kString, nil, func(c *Config) any { return &c.DBAnonRole }, "role for requests without a JWT"},
	{"db-channel", kString, nil, func(c *Config) any { return &c.DBChannel }, "LISTEN channel for reload notifications"},
	{"db-channel-enabled", kBool, nil, func(c *Config) any { return &c.DBChannelEnabled }, "listen on db-channel"},
	{"db-config", kBool, nil, func(c *Config) any { return &c.DBConfig }, "read pgrst.* settings of the authenticator role"},
	{"db-extra-search-path", kList, nil, func(c *Config) any { return &c.DBExtraSearchPath }, "schemas appended to search_path"},
	{"db-hoisted-tx-settings", kList, nil, func(c *Config) any { return &c.DBHoistedTxSettings }, "function settings applied to the transaction"},
	{"db-max-rows", kOptInt64, nil, func(c *Config) any { return &c.DBMaxRows }, "cap on rows returned"},
	{"db-plan-enabled", kBool, nil, func(c *Config) any { return &c.DBPlanEnabled }, "allow Accept: application/vnd.pgrst.plan"},
	{"db-pool", kInt, nil, func(c *Config) any { return &c.DBPool }, "maximum connections in the pool"},
	{"db-pool-acquisition-timeout", kSeconds, nil, func(c *Config) any { return &c.DBPoolAcquisitionTimeout }, "seconds to wait for a pool connection (then 504)"},
	{"db-pool-automatic-recovery", kBool, nil, func(c *Config) any { return &c.DBPoolAutomaticRecovery }, "reconnect by itself when the database comes back"},
	{"db-pool-max-idletime", kSeconds, nil, func(c *Config) any { return &c.DBPoolMaxIdletime }, "seconds before an idle connection is closed"},
	{"db-pool-max-lifetime", kSeconds, nil, func(c *Config) any { return &c.DBPoolMaxLifetime }, "seconds a connection lives at most"},
	{"db-pre-config", kString, nil, func(c *Config) any { return &c.DBPreConfig }, "function run to set in-database config"},
	{"db-pre-request", kString, nil, func(c *Config) any { return &c.DBPreRequest }, "function called before every request"},
	{"db-prepared-statements", kBool, nil, func(c *Config) any { return &c.DBPreparedStatements }, "use prepared statements"},
	{"db-root-spec", kString, nil, func(c *Config) any { return &c.DBRootSpec }, "function answering GET / instead of OpenAPI"},
	{"db-schemas", kList, nil, func(c *Config) any { return &c.DBSchemas }, "exposed schemas, the first is the default"},
	{"db-tx-end", kString, []string{"commit", "commit-allow-override", "rollback", "rollback-allow-override"}, func(c *Config) any { return &c.DBTxEnd }, "how transactions end"},
	{"db-uri", kString, nil, func(c *Config) any { return &c.DBURI }, "libpq connection string of the authenticator"},
	{"jwt-aud", kString, nil, func(c *Config) any { return &c.JWTAud }, "required JWT audience"},
	{"jwt-cache-max-entries", kInt, nil, func(c *Config) any { return &c.JWTCacheMaxEntries }, "verified tokens kept (0 = off)"},
	{"jwt-role-claim-key", kString, nil, func(c *Config) any { return &c.JWTRoleClaimKey }, "JSPath of the role claim"},
	{"jwt-secret", kString, nil, func(c *Config) any { return &c.JWTSecret }, "HMAC secret (32+ characters), JWK or JWKS"},
	{"jwt-secret-is-base64", kBool, nil, func(c *Config) any { return &c.JWTSecretIsBase64 }, "jwt-secret is base64 encoded"},
	{"log-level", kString, []string{"crit", "error", "warn", "info", "debug"}, func(c *Config) any { return &c.LogLevel }, "crit, error, warn, info or debug"},
	{"log-query", kBool, nil, func(c *Config) any { return &c.LogQuery }, "log the SQL of each request at the current log level"},
	{"openapi-mode", kString, []string{"follow-privileges", "ignore-privileges", "disabled"}, func(c *Config) any { return &c.OpenAPIMode }, "OpenAPI output at /"},
	{"openapi-security-active", kBool, nil, func(c *Config) any { return &c.OpenAPISecurityActive }, "include security definitions"},
	{"openapi-server-proxy-uri", kString, nil, func(c *Config) any { return &c.OpenAPIServerProxyURI }, "public URL for the OpenAPI document"},
	{"pgrest-batch-max-operations", kInt, nil, func(c *Config) any { return &c.BatchMaxOperations }, "pgrest: most operations in one batch request (413 above)"},
	{"pgrest-body-timeout", kSeconds, nil, func(c *Config) any { return &c.BodyTimeout }, "pgrest: seconds a request body may stall before 408"},
	{"pgrest-header-timeout", kSeconds, nil, func(c *Config) any { return &c.HeaderTimeout }, "pgrest: seconds to receive a request's headers"},
	{"pgrest-idle-timeout", kSeconds, nil, func(c *Config) any { return &c.IdleTimeout }, "pgrest: seconds an idle keep-alive connection stays open"},
	{"pgrest-bulk-min-bytes", kInt64, nil, func(c *Config) any { return &c.BulkMinBytes }, "pgrest: a CSV POST body of unknown length or above this many bytes, or a JSON array above it, is loaded by COPY (NDJSON always is)"},
	{"pgrest-max-body-size", kInt64, nil, func(c *Config) any { return &c.MaxBodySize }, "pgrest: largest request body in bytes (413 above; 0 = no limit)"},
	{"pgrest-log-format", kString, []string{"text", "json"}, func(c *Config) any { return &c.LogFormat }, "pgrest: text (PostgREST's log lines) or json (one JSON object per line)"},
	{"pgrest-admin-pprof", kBool, nil, func(c *Config) any { return &c.AdminPprof }, "pgrest: serve Go profiles at /debug/pprof/ on the admin server"},
	{"pgrest-plan-cache-size", kInt, nil, func(c *Config) any { return &c.PlanCacheSize }, "pgrest: compiled-SQL memo entries"},
	{"pgrest-db-listen-uri", kString, nil, func(c *Config) any { return &c.ListenURI }, "pgrest: direct (session) connection for LISTEN when db-uri goes through a transaction pooler"},
	{"pgrest-db-replica-uris", kList, nil, func(c *Config) any { return &c.ReplicaURIs }, "pgrest: comma-separated read replicas (streaming standbys) for GET/HEAD reads"},
	{"pgrest-replica-check-interval", kSeconds, nil, func(c *Config) any { return &c.ReplicaCheckInterval }, "pgrest: seconds between replica health and replay checks"},
	{"pgrest-replica-max-lag", kSeconds, nil, func(c *Config) any { return &c.ReplicaMaxLag }, "pgrest: a replica further behind than this many seconds gets no requests"},
	{"pgrest-replica-wait-timeout", kSeconds, nil, func(c *Config) any { return &c.ReplicaWaitTimeout }, "pgrest: longest wait for a replica to replay X-Pgrest-Min-Lsn (then the primary)"},
	{"pgrest-schema-poll-interval", kSeconds, nil, func(c *Config) any { return &c.SchemaPollInterval }, "pgrest: seconds between catalog fingerprint checks (0 = off)"},
	{"pgrest-schema-wait-timeout", kSeconds, nil, func(c *Config) any { return &c.SchemaWaitTimeout }, "pgrest: longest wait for X-Schema-Version-Min"},
	{"pgrest-shutdown-timeout", kSeconds, nil, func(c *Config) any { return &c.ShutdownTimeout }, "pgrest: seconds in-flight requests get on shutdown, then they are cancelled"},
	{"pgrest-realtime-enabled", kBool, nil, func(c *Config) any { return &c.RealtimeEnabled }, "pgrest: serve Accept: text/event-stream subscriptions from logical replication"},
	{"pgrest-realtime-slot-prefix", kString, nil, func(c *Config) any { return &c.RealtimeSlotPrefix }, "pgrest: name of this instance's replication slot and publication (unique per instance)"},
	{"pgrest-realtime-max-subscriptions", kInt, nil, func(c *Config) any { return &c.RealtimeMaxSubscriptions }, "pgrest: most open subscriptions (503 above)"},
	{"pgrest-realtime-retention", kSeconds, nil, func(c *Config) any { return &c.RealtimeRetention }, "pgrest: seconds of changes kept for Last-Event-ID resume (the slot holds them across restarts)"},
	{"pgrest-realtime-heartbeat", kSeconds, nil, func(c *Config) any { return &c.RealtimeHeartbeat }, "pgrest: seconds between SSE heartbeat comments"},
	{"pgrest-realtime-buffer", kInt, nil, func(c *Config) any { return &c.RealtimeBuffer }, "pgrest: events buffered per subscriber before it is dropped as too slow"},
	{"pgrest-write-timeout", kSeconds, nil, func(c *Config) any { return &c.WriteTimeout }, "pgrest: seconds a response write may stall"},
	{"server-cors-allowed-origins", kList, nil, func(c *Config) any { return &c.ServerCORSAllowedOrigins }, "allowed CORS origins"},
	{"server-host", kString, nil, func(c *Config) any { return &c.ServerHost }, "host to bind (!4 = any IPv4)"},
	{"server-port", kInt, nil, func(c *Config) any { return &c.ServerPort }, "port to bind"},
	{"server-reuseport", kBool, nil, func(c *Config) any { return &c.ServerReusePort }, "set SO_REUSEPORT"},
	{"server-timing-enabled", kBool, nil, func(c *Config) any { return &c.ServerTimingEnabled }, "send Server-Timing"},
	{"server-trace-header", kString, nil, func(c *Config) any { return &c.ServerTraceHeader }, "request header echoed in the response"},
	{"server-unix-socket", kString, nil, func(c *Config) any { return &c.ServerUnixSocket }, "serve on a unix socket instead"},
	{"server-unix-socket-mode", kOctal, nil, func(c *Config) any { return &c.ServerUnixSocketMode }, "permissions of the unix socket"},
	{"url-use-legacy-target-names", kBool, nil, func(c *Config) any { return &c.URLUseLegacyTargetNames }, "filters, orders and limits may name an aliased embed by its relation"},
}

// aliases are PostgREST's older key names.
var aliases = map[string]string{
	"db-pool-timeout":  "db-pool-max-idletime",
	"max-rows":         "db-max-rows",
	"pre-request":      "db-pre-request",
	"root-spec":        "db-root-spec",
	"secret-is-base64": "jwt-secret-is-base64",
	"role-claim-key":   "jwt-role-claim-key",
	"db-schema":        "db-schemas",
}

var byName = func() map[string]*key {
	m := map[string]*key{}
	for i := range keys {
		m[keys[i].name] = &keys[i]
	}
	return m
}()

// Error names the key and the bad value. Msg, when set, is PostgREST's own
// wording for the problem and is printed as is.
type Error struct{ Key, Value, Reason, Msg string }

// Error is PostgREST's wording when it has one, else names the key and value.
func (e *Error) Error() string {
	if e.Msg != "" && strings.Contains(e.Msg, e.Key) {
		return e.Msg
	}
	if e.Msg != "" {
		return e.Msg + " (" + e.Key + ")"
	}
	return fmt.Sprintf("invalid value for %s: %q (%s)", e.Key, e.Value, e.Reason)
}

// enumMessages are PostgREST's messages for a value outside a key's list.
var enumMessages = map[string]string{
	"client-error-verbosity": "Invalid client-error-verbosity. Check your configuration.",
	"db-tx-end":              "Invalid transaction termination. Check your configuration.",
	"log-level":              "Invalid logging level. Check your configuration.",
	"openapi-mode":           "Invalid openapi-mode. Check your configuration.",
}

// Load reads the file at path ("" for none) and the environment.
func Load(path string, environ []string) (*Config, error) {
	text := ""
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("cannot read config file: %w", err)
		}
		text = string(b)
	}
	return Parse(text, environ)
}

// interp finds $(VAR) (the variable's value) and $$ (a literal $) in file
// values, as PostgREST's config file format does.
var interp = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)|\$\$`)

// Parse reads config file text, then PGRST_* variables over it. As in
// PostgREST, a variable set to the empty string puts its key back to the
// default (db-extra-search-path to empty), whatever the file says.
func Parse(text string, environ []string) (*Config, error) {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	c := Default()
	fileKeys := map[string]bool{}
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("config file line %d: expected key = value: %q", n+1, line)
		}
		k = strings.TrimSpace(k)
		typ := bareType(v)
		v, err := unquote(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("config file line %d: %v", n+1, err)
		}
		v = interp.ReplaceAllStringFunc(v, func(m string) string {
			if m == "$$" {
				return "$"
			}
			return env[m[2:len(m)-1]]
		})
		if err := c.setTyped(k, v, typ); err != nil {
			return nil, err
		}
		fileKeys[k] = true
	}
	// Environment overrides the file. Keys map by upper-casing and turning
	// "-" and "." into "_"; app.settings.* are found by prefix.
	for _, k := range keys {
		if v, ok := env[envName(k.name)]; ok {
			if err := c.Set(k.name, v); err != nil {
				return nil, err
			}
		}
	}
	// An old name (PGRST_MAX_ROWS) counts where the key's own name is set
	// nowhere, as PostgREST reads the alias only when the key is unset.
	for alias, key := range aliases {
		v := env[envName(alias)]
		if _, own := env[envName(key)]; v == "" || own || fileKeys[key] {
			continue
		}
		if err := c.Set(key, v); err != nil {
			return nil, err
		}
	}
	for name, v := range env {
		if rest, ok := strings.CutPrefix(name, "PGRST_APP_SETTINGS_"); ok && rest != "" {
			c.AppSettings[rest] = v // the name as written, as PostgREST keeps it
		}
	}
	if err := c.readFileRefs(); err != nil {
		return nil, err
	}
	return c, c.Validate()
}

func envName(k string) string {
	return "PGRST_" + strings.NewReplacer("-", "_", ".", "_").Replace(strings.ToUpper(k))
}

// unquote accepts "double quoted" (with \" and \\ escapes), 'single quoted'
// and bare values.
func unquote(v string) (string, error) {
	if i := strings.Index(v, " #"); i >= 0 && !strings.HasPrefix(v, `"`) {
		v = strings.TrimSpace(v[:i])
	}
	if len(v) >= 1 && (v[0] == '"' || v[0] == '\'') {
		q := v[0]
		var sb strings.Builder
		for i := 1; i < len(v); i++ {
			ch := v[i]
			if ch == '\\' && q == '"' && i+1 < len(v) {
				i++
				sb.WriteByte(v[i])
				continue
			}
			if ch == q {
				return sb.String(), nil
			}
			sb.WriteByte(ch)
		}
		return "", fmt.Errorf("unterminated string %s", v)
	}
	return v, nil
}

// bareType is the type an unquoted file value has in PostgREST's config
// format: "bool" (true, false, on, off), "number", or "" for a string.
func bareType(raw string) string {
	raw = strings.TrimSpace(raw)
	if i := strings.Index(raw, " #"); i >= 0 {
		raw = strings.TrimSpace(raw[:i])
	}
	if raw == "" || raw[0] == '"' || raw[0] == '\'' {
		return ""
	}
	switch raw {
	case "true", "false", "on", "off":
		return "bool"
	}
	if _, err := strconv.ParseFloat(raw, 64); err == nil {
		return "number"
	}
	return ""
}

// setTyped sets a key from a typed file value as PostgREST coerces it: a
// number where a boolean is expected, or a boolean where a number is, is
// ignored (the key keeps its default), and a string key shows the value's
// type ("Bool False", "Number 13.0").
func (c *Config) setTyped(name, v, typ string) error {
	if typ == "" {
		return c.Set(name, v)
	}
	canon := name
	if a, ok := aliases[name]; ok {
		canon = a
	}
	k, known := byName[canon]
	switch {
	case strings.HasPrefix(name, "app.settings."):
		return c.Set(name, showTyped(v, typ))
	case !known:
		return nil
	case k.kind == kBool && typ == "number":
		c.reset(k)
		return nil
	case k.kind != kBool && k.kind != kString && k.kind != kOctal && k.kind != kList && typ == "bool":
		c.reset(k)
		return nil
	case (k.kind == kString || k.kind == kList) && k.enum == nil:
		return c.Set(name, showTyped(v, typ))
	}
	return c.Set(name, v)
}

// showTyped is Haskell's show of a config value that is no string.
func showTyped(v, typ string) string {
	if typ == "bool" {
		if v == "true" || v == "on" {
			return "Bool True"
		}
		return "Bool False"
	}
	f, _ := strconv.ParseFloat(v, 64)
	if f == math.Trunc(f) && math.Abs(f) < 1e7 {
		return "Number " + strconv.FormatFloat(f, 'f', 1, 64)
	}
	return "Number " + strconv.FormatFloat(f, 'g', -1, 64)
}

// Names lists every configuration key.
func Names() []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.name
	}
	return out
}

// emptyable keys take "" as a value; for every other key PostgREST reads
// "" as unset, i.e. the default.
var emptyable = map[string]bool{"db-extra-search-path": true}

// Set assigns one key from its textual value (also the in-database path).
func (c *Config) Set(name, v string) error {
	if rest, ok := strings.CutPrefix(name, "app.settings."); ok {
		c.AppSettings[rest] = v
		return nil
	}
	if a, ok := aliases[name]; ok {
		name = a
	}
	k, ok := byName[name]
	if !ok {
		return nil // PostgREST ignores unknown keys
	}
	if v == "" && !emptyable[name] {
		c.reset(k)
		return nil
	}
	bad := func(reason string) error { return &Error{Key: name, Value: v, Reason: reason} }
	switch p := k.field(c).(type) {
	case *string:
		if k.enum != nil && !contains(k.enum, v) {
			return &Error{Key: name, Value: v, Reason: "expected one of " + strings.Join(k.enum, ", "), Msg: enumMessages[name]}
		}
		*p = v
	case *bool:
		if name == "log-query" {
			// pgrest before v16 compatibility took PostgREST v12's string
			// values; keep them as aliases of the v16 boolean.
			switch v {
			case "main-query":
				v = "true"
			case "disabled":
				v = "false"
			}
		}
		b, ok := parseBool(v)
		if !ok {
			return bad("expected true or false")
		}
		*p = b
	case *int:
		lo, hi, reason := intRange(name)
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < lo || n > hi {
			return bad(reason)
		}
		*p = n
	case *int64:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return bad("expected a non-negative integer")
		}
		*p = n
	case **int:
		lo, hi, reason := intRange(name)
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < lo || n > hi {
			return bad(reason)
		}
		*p = &n
	case **int64:
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < 0 {
			return bad("expected a non-negative integer")
		}
		*p = &n
	case *time.Duration:
		n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || n < 0 {
			return bad("expected a number of seconds")
		}
		*p = time.Duration(n * float64(time.Second))
	case *[]string:
		var out []string
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		*p = out
	case *uint32:
		return c.setSocketMode(name, v, p)
	}
	return nil
}

// intRange is the range of an integer key and how an error describes it;
// a value that is no integer and one out of range read the same.
func intRange(name string) (lo, hi int, reason string) {
	switch name {
	case "server-port", "admin-server-port":
		return 0, 65535, portReason
	case "db-pool":
		return 1, math.MaxInt, poolReason
	}
	return 0, math.MaxInt, "expected a non-negative integer"
}

const (
	portReason = "expected a port number from 0 to 65535"
	poolReason = "expected an integer of at least 1"
)

// setSocketMode reads octal permissions the way PostgREST does: the leading
// octal digits, from 600 to 777.
func (c *Config) setSocketMode(name, v string, p *uint32) error {
	digits := v
	for i, ch := range v {
		if ch < '0' || ch > '7' {
			digits = v[:i]
			break
		}
	}
	n, err := strconv.ParseUint(digits, 8, 32)
	if err != nil {
		return &Error{Key: name, Value: v, Msg: "Invalid " + name + ": not an octal"}
	}
	if n < 0o600 || n > 0o777 {
		return &Error{Key: name, Value: v, Msg: "Invalid " + name + ": needs to be between 600 and 777"}
	}
	*p = uint32(n)
	return nil
}

// reset puts a key back to its default.
func (c *Config) reset(k *key) {
	d := Default()
	switch p := k.field(c).(type) {
	case *string:
		*p = *k.field(d).(*string)
	case *bool:
		*p = *k.field(d).(*bool)
	case *int:
		*p = *k.field(d).(*int)
	case **int:
		*p = nil
	case **int64:
		*p = nil
	case *time.Duration:
		*p = *k.field(d).(*time.Duration)
	case *[]string:
		*p = *k.field(d).(*[]string)
	case *uint32:
		*p = *k.field(d).(*uint32)
	}
}

// parseBool takes what PostgREST takes: true/false in any case and with
// any quotes or other non-letters around them, or an integer (above 0 is
// true); on/off and yes/no are pgrest's additions.
func parseBool(v string) (bool, bool) {
	letters := strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) {
			return unicode.ToLower(r)
		}
		return -1
	}, v)
	switch letters {
	case "true", "on", "yes":
		return true, true
	case "false", "off", "no":
		return false, true
	}
	if n, ok := new(big.Int).SetString(strings.TrimSpace(v), 10); ok {
		return n.Sign() > 0, true
	}
	return false, false
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// readFileRefs resolves "@/path" values of db-uri and jwt-secret.
func (c *Config) readFileRefs() error {
	for _, f := range []struct {
		name string
		p    *string
	}{{"db-uri", &c.DBURI}, {"jwt-secret", &c.JWTSecret}} {
		if path, ok := strings.CutPrefix(*f.p, "@"); ok {
			v, err := readRef(f.name, path)
			if err != nil {
				return &Error{Key: f.name, Value: *f.p, Reason: err.Error()}
			}
			*f.p = v
		}
	}
	return nil
}

// stdinRefs keeps what "@/dev/stdin" gave each key: standard input can be
// read once, while a config reload re-reads every other referenced file.
var (
	stdinMu   sync.Mutex
	stdinRefs = map[string]string{}
)

func readRef(key, path string) (string, error) {
	stdin := path == "/dev/stdin"
	if stdin {
		stdinMu.Lock()
		defer stdinMu.Unlock()
		if v, ok := stdinRefs[key]; ok {
			return v, nil
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	v := strings.TrimRight(string(b), "\r\n")
	if stdin {
		stdinRefs[key] = v
	}
	return v, nil
}

// Validate checks what PostgREST checks when it reads the configuration,
// with its messages where it has one.
func (c *Config) Validate() error {
	for _, check := range []func() error{c.checkSchemas, c.checkPorts, c.checkJWT, c.checkProxyURI} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

func (c *Config) checkSchemas() error {
	if len(c.DBSchemas) == 0 {
		return &Error{Key: "db-schemas", Value: "", Reason: "at least one schema is needed"}
	}
	for _, s := range c.DBSchemas {
		if s == "pg_catalog" || s == "information_schema" {
			return &Error{Key: "db-schemas", Value: s, Msg: "db-schemas does not allow schema: '" + s + "'"}
		}
	}
	if c.DBPool < 1 {
		return &Error{Key: "db-pool", Value: strconv.Itoa(c.DBPool), Reason: poolReason}
	}
	return nil
}

func (c *Config) checkPorts() error {
	if c.ServerPort > 65535 {
		return &Error{Key: "server-port", Value: strconv.Itoa(c.ServerPort), Reason: portReason}
	}
	if c.AdminServerPort != nil && *c.AdminServerPort == c.ServerPort {
		return &Error{Key: "admin-server-port", Value: strconv.Itoa(c.ServerPort), Msg: "admin-server-port cannot be the same as server-port"}
	}
	return nil
}

func (c *Config) checkJWT() error {
	if err := auth.ParseRoleClaimKey(c.JWTRoleClaimKey); err != nil {
		return &Error{Key: "jwt-role-claim-key", Value: c.JWTRoleClaimKey, Msg: err.Error()}
	}
	if strings.Contains(c.JWTAud, ":") && !isURI(c.JWTAud) {
		return &Error{Key: "jwt-aud", Value: c.JWTAud, Msg: "jwt-aud should be a string or a valid URI"}
	}
	if s := c.JWTSecret; s != "" && !strings.HasPrefix(strings.TrimSpace(s), "{") {
		if c.JWTSecretIsBase64 {
			if _, err := base64.StdEncoding.DecodeString(s); err != nil {
				if _, err := base64.URLEncoding.DecodeString(s); err != nil {
					return &Error{Key: "jwt-secret", Value: "<hidden>", Reason: "not valid base64"}
				}
			}
		} else if len(s) < 32 {
			return &Error{Key: "jwt-secret", Value: "<hidden>", Msg: "The JWT secret must be at least 32 characters long."}
		}
	}
	return nil
}

// checkProxyURI: an absolute http(s) URI with a host, an optional port from
// 1 to 65535, and no user info or query.
func (c *Config) checkProxyURI() error {
	v := c.OpenAPIServerProxyURI
	if v == "" {
		return nil
	}
	malformed := &Error{Key: "openapi-server-proxy-uri", Value: v, Msg: "Malformed proxy uri, a correct example: https://example.com:8443/basePath"}
	u, err := url.Parse(v)
	if err != nil || !isURI(v) || u.Opaque != "" || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Hostname() == "" {
		return malformed
	}
	if s := strings.ToLower(u.Scheme); s != "http" && s != "https" {
		return malformed
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return malformed
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return malformed
	}
	return nil
}

// isURI is RFC 3986's test for a URI: a scheme, then only characters a URI
// may hold, with every % starting an escape.
func isURI(s string) bool {
	colon := strings.IndexByte(s, ':')
	if colon < 1 || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < colon; i++ {
		if ch := s[i]; !isAlpha(ch) && (ch < '0' || ch > '9') && ch != '+' && ch != '-' && ch != '.' {
			return false
		}
	}
	rest := s[colon+1:]
	for i := 0; i < len(rest); i++ {
		ch := rest[i]
		switch {
		case ch == '%':
			if i+2 >= len(rest) || !isHex(rest[i+1]) || !isHex(rest[i+2]) {
				return false
			}
			i += 2
		case isAlpha(ch) || (ch >= '0' && ch <= '9') || strings.IndexByte("-._~:/?#[]@!$&'()*+,;=", ch) >= 0:
		default:
			return false
		}
	}
	return strings.Count(rest, "#") <= 1
}

func isAlpha(ch byte) bool { return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') }

func isHex(ch byte) bool {
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F')
}

// Clone copies the config (reload swaps whole configs).
func (c *Config) Clone() *Config {
	n := *c
	n.AppSettings = map[string]string{}
	for k, v := range c.AppSettings {
		n.AppSettings[k] = v
	}
	return &n
}

// q quotes a string as PostgREST's --dump-config does: only " is escaped.
func q(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

func (c *Config) value(k *key) string {
	switch k.name {
	case "admin-server-host":
		if c.AdminServerHost == "" {
			return q(c.ServerHost)
		}
	case "jwt-role-claim-key":
		return q(strings.ReplaceAll(RoleClaimKeyJSONPath(c.JWTRoleClaimKey), "$", "$$"))
	}
	switch p := k.field(c).(type) {
	case *string:
		return q(*p)
	case *bool:
		return strconv.FormatBool(*p)
	case *int:
		return strconv.Itoa(*p)
	case *int64:
		return strconv.FormatInt(*p, 10)
	case **int:
		if *p == nil {
			return `""`
		}
		return strconv.Itoa(**p)
	case **int64:
		if *p == nil {
			return `""`
		}
		return strconv.FormatInt(**p, 10)
	case *time.Duration:
		return strconv.FormatFloat(p.Seconds(), 'f', -1, 64)
	case *[]string:
		return q(strings.Join(*p, ","))
	case *uint32:
		return q(strconv.FormatUint(uint64(*p), 8))
	}
	return `""`
}

// LegacyRoleClaimKey tells whether a role claim key is in the pre-v16
// syntax v16.2 still reads with a deprecation warning: no leading $, or the
// ^==, ==^ and *== comparisons.
func LegacyRoleClaimKey(k string) bool {
	if !strings.HasPrefix(k, "$") {
		return true
	}
	for _, op := range []string{"^==", "==^", "*=="} {
		if strings.Contains(k, op) {
			return true
		}
	}
	return false
}

// RoleClaimKeyJSONPath writes a pre-v16 role claim key (.a.b) in v16's
// JSONPath form ($.a.b); a JSONPath is returned as is.
func RoleClaimKeyJSONPath(k string) string {
	if strings.HasPrefix(k, ".") || strings.HasPrefix(k, "[") {
		return "$" + k
	}
	return k
}

// Dump renders the effective config as PostgREST v16's --dump-config does:
// "key = value" lines, app.settings.* included, sorted. pgrest's own keys
// appear only when they differ from their defaults.
func (c *Config) Dump() string {
	var lines []string
	d := Default()
	for i := range keys {
		k := &keys[i]
		v := c.value(k)
		if strings.HasPrefix(k.name, "pgrest-") && v == d.value(k) {
			continue
		}
		lines = append(lines, k.name+" = "+v)
	}
	for k, v := range c.AppSettings {
		lines = append(lines, "app.settings."+k+" = "+q(v))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

// Example is a commented config file listing every key with its default.
func Example() string {
	d := Default()
	var sb strings.Builder
	sb.WriteString("## pgrest configuration (PostgREST v16 compatible). Every key may also be\n## set as PGRST_<KEY> in the environment, e.g. PGRST_DB_URI.\n\n")
	for i := range keys {
		k := &keys[i]
		fmt.Fprintf(&sb, "## %s\n# %s = %s\n\n", k.doc, k.name, d.value(k))
	}
	sb.WriteString("## free-form settings, readable in SQL as current_setting('app.settings.jwt_exp')\n# app.settings.jwt_exp = \"3600\"\n")
	return sb.String()
}

// LegacyRoleClaimKeyText is a pre-v16 role claim key the way v16 prints it
// in its deprecation warning: each key quoted (."roles"."user_role"),
// indexes, slices and filters normalised. A key it cannot read is
// returned as written.
func LegacyRoleClaimKeyText(k string) string {
	s := strings.TrimPrefix(k, "$")
	var b strings.Builder
	for s != "" {
		n, text := legacyStep(s)
		if n == 0 {
			return k
		}
		b.WriteString(text)
		s = s[n:]
	}
	return b.String()
}

var legacySteps = []struct {
	re     *regexp.Regexp
	render func(m []string) string
}{
	{regexp.MustCompile(`^\.([A-Za-z0-9_$@]+)`), func(m []string) string { return "." + strconv.Quote(m[1]) }},
	{regexp.MustCompile(`^\."([^"]*)"`), func(m []string) string { return "." + strconv.Quote(m[1]) }},
	{regexp.MustCompile(`^\[([0-9]+)\]`), func(m []string) string { return "[" + m[1] + "]" }},
	{regexp.MustCompile(`^\[(-?[0-9]*):(-?[0-9]*)\]`), func(m []string) string { return "[" + m[1] + ":" + m[2] + "]" }},
	{regexp.MustCompile(`^\[\?\(@\s*(==\^|==|!=|\^==|\*==)\s*"([^"]*)"\)\]`), func(m []string) string {
		return "[?(@ " + m[1] + " " + strconv.Quote(m[2]) + ")]"
	}},
}

func legacyStep(s string) (int, string) {
	for _, st := range legacySteps {
		if m := st.re.FindStringSubmatch(s); m != nil {
			return len(m[0]), st.render(m)
		}
	}
	return 0, ""
}
