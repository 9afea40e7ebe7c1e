package config

import (
	"encoding/base64"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
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
	{"pgrest-plan-cache-size", kInt, nil, func(c *Config) any { return &c.PlanCacheSize }, "pgrest: compiled-SQL memo entries"},
	{"pgrest-schema-poll-interval", kSeconds, nil, func(c *Config) any { return &c.SchemaPollInterval }, "pgrest: seconds between catalog fingerprint checks (0 = off)"},
	{"pgrest-schema-wait-timeout", kSeconds, nil, func(c *Config) any { return &c.SchemaWaitTimeout }, "pgrest: longest wait for X-Schema-Version-Min"},
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
}

var byName = func() map[string]*key {
	m := map[string]*key{}
	for i := range keys {
		m[keys[i].name] = &keys[i]
	}
	return m
}()

// Error names the key and the bad value.
type Error struct{ Key, Value, Reason string }

func (e *Error) Error() string {
	return fmt.Sprintf("invalid value for %s: %q (%s)", e.Key, e.Value, e.Reason)
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

var interp = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// Parse reads config file text, then PGRST_* variables over it.
func Parse(text string, environ []string) (*Config, error) {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	c := Default()
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
		v, err := unquote(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("config file line %d: %v", n+1, err)
		}
		v = interp.ReplaceAllStringFunc(v, func(m string) string { return env[m[2:len(m)-1]] })
		if err := c.Set(k, v); err != nil {
			return nil, err
		}
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
	for name, v := range env {
		if rest, ok := strings.CutPrefix(name, "PGRST_APP_SETTINGS_"); ok && rest != "" {
			c.AppSettings[strings.ToLower(rest)] = v
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

// Names lists every configuration key.
func Names() []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.name
	}
	return out
}

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
	bad := func(reason string) error { return &Error{Key: name, Value: v, Reason: reason} }
	switch p := k.field(c).(type) {
	case *string:
		if k.enum != nil && !contains(k.enum, v) {
			return bad("expected one of " + strings.Join(k.enum, ", "))
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
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return bad("expected a non-negative integer")
		}
		*p = n
	case **int:
		if v == "" {
			*p = nil
			return nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 65535 {
			return bad("expected a port number")
		}
		*p = &n
	case **int64:
		if v == "" {
			*p = nil
			return nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return bad("expected a non-negative integer")
		}
		*p = &n
	case *time.Duration:
		n, err := strconv.ParseFloat(v, 64)
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
		n, err := strconv.ParseUint(v, 8, 32)
		if err != nil || n > 0o777 {
			return bad("expected octal permissions like 660")
		}
		*p = uint32(n)
	}
	return nil
}

func parseBool(v string) (bool, bool) {
	switch strings.ToLower(v) {
	case "true", "on", "yes", "1":
		return true, true
	case "false", "off", "no", "0":
		return false, true
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
			b, err := os.ReadFile(path)
			if err != nil {
				return &Error{Key: f.name, Value: *f.p, Reason: err.Error()}
			}
			*f.p = strings.TrimRight(string(b), "\r\n")
		}
	}
	return nil
}

// Validate checks constraints between values.
func (c *Config) Validate() error {
	if len(c.DBSchemas) == 0 {
		return &Error{Key: "db-schemas", Value: "", Reason: "at least one schema is needed"}
	}
	if c.DBPool < 1 {
		return &Error{Key: "db-pool", Value: strconv.Itoa(c.DBPool), Reason: "must be at least 1"}
	}
	if s := c.JWTSecret; s != "" && !strings.HasPrefix(strings.TrimSpace(s), "{") {
		if c.JWTSecretIsBase64 {
			if _, err := base64.StdEncoding.DecodeString(s); err != nil {
				if _, err := base64.URLEncoding.DecodeString(s); err != nil {
					return &Error{Key: "jwt-secret", Value: "<hidden>", Reason: "not valid base64"}
				}
			}
		} else if len(s) < 32 {
			return &Error{Key: "jwt-secret", Value: "<hidden>", Reason: "must be at least 32 characters long"}
		}
	}
	return nil
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

func (c *Config) value(k *key) (string, bool) {
	switch p := k.field(c).(type) {
	case *string:
		return strconv.Quote(*p), true
	case *bool:
		return strconv.FormatBool(*p), true
	case *int:
		return strconv.Itoa(*p), true
	case **int:
		if *p == nil {
			return "", false
		}
		return strconv.Itoa(**p), true
	case **int64:
		if *p == nil {
			return "", false
		}
		return strconv.FormatInt(**p, 10), true
	case *time.Duration:
		return strconv.FormatFloat(p.Seconds(), 'f', -1, 64), true
	case *[]string:
		return strconv.Quote(strings.Join(*p, ",")), true
	case *uint32:
		return strconv.Quote(strconv.FormatUint(uint64(*p), 8)), true
	}
	return "", false
}

// Dump renders the effective config as key = value lines, sorted.
func (c *Config) Dump() string {
	var sb strings.Builder
	for i := range keys {
		if v, ok := c.value(&keys[i]); ok {
			fmt.Fprintf(&sb, "%s = %s\n", keys[i].name, v)
		}
	}
	names := make([]string, 0, len(c.AppSettings))
	for k := range c.AppSettings {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(&sb, "app.settings.%s = %s\n", k, strconv.Quote(c.AppSettings[k]))
	}
	return sb.String()
}

// Example is a commented config file listing every key with its default.
func Example() string {
	d := Default()
	var sb strings.Builder
	sb.WriteString("## pgrest configuration (PostgREST v16 compatible). Every key may also be\n## set as PGRST_<KEY> in the environment, e.g. PGRST_DB_URI.\n\n")
	for i := range keys {
		k := &keys[i]
		fmt.Fprintf(&sb, "## %s\n", k.doc)
		if v, ok := d.value(k); ok {
			fmt.Fprintf(&sb, "# %s = %s\n\n", k.name, v)
		} else {
			fmt.Fprintf(&sb, "# %s = \n\n", k.name)
		}
	}
	sb.WriteString("## free-form settings, readable in SQL as current_setting('app.settings.jwt_exp')\n# app.settings.jwt_exp = \"3600\"\n")
	return sb.String()
}
