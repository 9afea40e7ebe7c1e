package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFileEnvPrecedenceAndInterpolation(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	os.WriteFile(secretFile, []byte("a-secret-read-from-a-file-0123456789\n"), 0o600)
	text := `
# comment
db-uri = "postgres://$(DB_USER)@localhost/app"
db-schemas = "api, v2"
db-pool = 5
db-pool-timeout = 15        # legacy alias of db-pool-max-idletime
jwt-secret = "@` + secretFile + `"
server-port = 3001
db-max-rows = 100
app.settings.greeting = "hello \"world\""
log-level = 'info'
`
	c, err := Parse(text, []string{"DB_USER=alice", "PGRST_SERVER_PORT=4000", "PGRST_APP_SETTINGS_COLOR=blue", "PGRST_DB_POOL=7"})
	if err != nil {
		t.Fatal(err)
	}
	if c.DBURI != "postgres://alice@localhost/app" {
		t.Errorf("interpolation: %q", c.DBURI)
	}
	if strings.Join(c.DBSchemas, "|") != "api|v2" {
		t.Errorf("schemas: %v", c.DBSchemas)
	}
	if c.DBPool != 7 || c.ServerPort != 4000 {
		t.Errorf("env must override the file: pool %d port %d", c.DBPool, c.ServerPort)
	}
	if c.DBPoolMaxIdletime != 15*time.Second {
		t.Errorf("alias: %v", c.DBPoolMaxIdletime)
	}
	if c.JWTSecret != "a-secret-read-from-a-file-0123456789" {
		t.Errorf("@file: %q", c.JWTSecret)
	}
	if c.DBMaxRows == nil || *c.DBMaxRows != 100 || c.LogLevel != "info" {
		t.Errorf("max rows / log level: %v %q", c.DBMaxRows, c.LogLevel)
	}
	if c.AppSettings["greeting"] != `hello "world"` || c.AppSettings["COLOR"] != "blue" {
		t.Errorf("app settings: %v", c.AppSettings)
	}
	// Dump re-parses to the same configuration.
	again, err := Parse(c.Dump(), nil)
	if err != nil {
		t.Fatalf("dump does not parse: %v\n%s", err, c.Dump())
	}
	if again.Dump() != c.Dump() {
		t.Errorf("dump round trip differs:\n%s\n---\n%s", c.Dump(), again.Dump())
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.DBPool != 10 || c.DBChannel != "pgrst" || !c.DBChannelEnabled || c.DBTxEnd != "commit" || c.ServerPort != 3000 ||
		c.JWTRoleClaimKey != "$.role" || c.OpenAPIMode != "follow-privileges" || c.DBPoolAcquisitionTimeout != 10*time.Second {
		t.Errorf("defaults: %+v", c)
	}
	if _, err := Parse(Example(), nil); err != nil {
		t.Errorf("--example does not parse: %v", err)
	}
}

func TestBadValuesNameTheKey(t *testing.T) {
	cases := []struct{ file, env, key string }{
		{`db-pool = "ten"`, "", "db-pool"},
		{`db-pool = 0`, "", "db-pool"},
		{`server-port = -1`, "", "server-port"},
		{`db-channel-enabled = maybe`, "", "db-channel-enabled"},
		{`db-tx-end = "sometimes"`, "", "db-tx-end"},
		{`log-level = "loud"`, "", "log-level"},
		{`openapi-mode = "open"`, "", "openapi-mode"},
		{`client-error-verbosity = "chatty"`, "", "client-error-verbosity"},
		{`jwt-secret = "short"`, "", "jwt-secret"},
		{`server-unix-socket-mode = "999"`, "", "server-unix-socket-mode"},
		{`db-max-rows = "lots"`, "", "db-max-rows"},
		{`db-pool-acquisition-timeout = "soon"`, "", "db-pool-acquisition-timeout"},
		{`admin-server-port = "x"`, "", "admin-server-port"},
		{"", "PGRST_DB_TX_END=bogus", "db-tx-end"},
		{"", "PGRST_DB_POOL=many", "db-pool"},
		{`db-uri = "unterminated`, "", "line 1"},
	}
	for _, c := range cases {
		var env []string
		if c.env != "" {
			env = []string{c.env}
		}
		_, err := Parse(c.file, env)
		if err == nil {
			t.Errorf("%q %q: no error", c.file, c.env)
			continue
		}
		if !strings.Contains(err.Error(), c.key) {
			t.Errorf("%q %q: error %q does not name %s", c.file, c.env, err, c.key)
		}
	}
}

// log-query is v16's boolean (file and env); the pre-v16 string values stay
// accepted as aliases, and --example shows the boolean form.
func TestLogQueryIsBoolean(t *testing.T) {
	for _, c := range []struct {
		file, env string
		want      bool
	}{
		{"", "", false},
		{"log-query = true", "", true},
		{`log-query = "false"`, "", false},
		{"", "PGRST_LOG_QUERY=true", true},
		{"log-query = true", "PGRST_LOG_QUERY=false", false},
		{`log-query = "main-query"`, "", true},
		{`log-query = "disabled"`, "", false},
	} {
		var env []string
		if c.env != "" {
			env = []string{c.env}
		}
		cfg, err := Parse(c.file, env)
		if err != nil {
			t.Fatalf("%q %q: %v", c.file, c.env, err)
		}
		if cfg.LogQuery != c.want {
			t.Errorf("%q %q: log-query = %v, want %v", c.file, c.env, cfg.LogQuery, c.want)
		}
	}
	if _, err := Parse("log-query = sometimes", nil); err == nil || !strings.Contains(err.Error(), "log-query") {
		t.Errorf("a non-boolean log-query must be refused naming the key: %v", err)
	}
	if !strings.Contains(Example(), "# log-query = false\n") {
		t.Errorf("--example must show log-query as a boolean")
	}
	if !strings.Contains(Default().Dump(), "log-query = false\n") {
		t.Errorf("--dump-config must show log-query as a boolean")
	}
}

// v16's --dump-config of the defaults, key for key.
const v16Defaults = `admin-server-host = "!4"
admin-server-port = ""
admin-server-unix-socket = ""
admin-server-unix-socket-mode = "660"
client-error-verbosity = "verbose"
db-aggregates-enabled = false
db-anon-role = ""
db-channel = "pgrst"
db-channel-enabled = true
db-config = true
db-extra-search-path = "public"
db-hoisted-tx-settings = "statement_timeout,plan_filter.statement_cost_limit,default_transaction_isolation"
db-max-rows = ""
db-plan-enabled = false
db-pool = 10
db-pool-acquisition-timeout = 10
db-pool-automatic-recovery = true
db-pool-max-idletime = 30
db-pool-max-lifetime = 1800
db-pre-config = ""
db-pre-request = ""
db-prepared-statements = true
db-root-spec = ""
db-schemas = "public"
db-tx-end = "commit"
db-uri = "postgresql://"
jwt-aud = ""
jwt-cache-max-entries = 1000
jwt-role-claim-key = "$$.role"
jwt-secret = ""
jwt-secret-is-base64 = false
log-level = "error"
log-query = false
openapi-mode = "follow-privileges"
openapi-security-active = false
openapi-server-proxy-uri = ""
server-cors-allowed-origins = ""
server-host = "!4"
server-port = 3000
server-reuseport = false
server-timing-enabled = false
server-trace-header = ""
server-unix-socket = ""
server-unix-socket-mode = "660"
url-use-legacy-target-names = true
`

func TestDumpIsV16s(t *testing.T) {
	c, err := Parse("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Dump(); got != v16Defaults {
		t.Errorf("defaults dump:\n%s", got)
	}
	c, err = Parse(`jwt-role-claim-key = ".roles[?(@ == \"ü\")]"`+"\npgrest-log-format = \"json\"\nserver-host = \"127.0.0.1\"\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	d := c.Dump()
	for _, want := range []string{`jwt-role-claim-key = "$$.roles[?(@ == \"ü\")]"`, `pgrest-log-format = "json"`, `admin-server-host = "127.0.0.1"`} {
		if !strings.Contains(d, want) {
			t.Errorf("dump lacks %s:\n%s", want, d)
		}
	}
	c.AppSettings["zone"] = "x"
	if withApp := c.Dump(); !strings.Contains(withApp, "admin-server-unix-socket-mode = \"660\"\napp.settings.zone = \"x\"\nclient-error-verbosity") {
		t.Errorf("app.settings sort among the keys:\n%s", withApp)
	}
	delete(c.AppSettings, "zone")
	again, err := Parse(d, nil)
	if err != nil || again.Dump() != d || again.JWTRoleClaimKey != `$.roles[?(@ == "ü")]` {
		t.Errorf("re-dump: %v %q", err, again.JWTRoleClaimKey)
	}
}

func TestEmptyMeansUnset(t *testing.T) {
	c, err := Parse(`db-channel = ""`+"\nlog-level = \"info\"\n", []string{"PGRST_LOG_LEVEL=", "PGRST_DB_POOL=", "PGRST_ADMIN_SERVER_PORT="})
	if err != nil {
		t.Fatal(err)
	}
	if c.LogLevel != "error" || c.DBPool != 10 || c.AdminServerPort != nil || c.DBChannel != "pgrst" {
		t.Errorf("empty values must mean the default, over the file: %+v", c)
	}
	if c, _ := Parse(`db-extra-search-path = "x"`, []string{"PGRST_DB_EXTRA_SEARCH_PATH="}); len(c.DBExtraSearchPath) != 0 {
		t.Errorf("an empty PGRST_DB_EXTRA_SEARCH_PATH empties it: %v", c.DBExtraSearchPath)
	}
	if c, _ := Parse(`db-extra-search-path = ""`, nil); len(c.DBExtraSearchPath) != 0 {
		t.Errorf("db-extra-search-path takes the empty value: %v", c.DBExtraSearchPath)
	}
}

func TestBooleansAsPostgREST(t *testing.T) {
	for v, want := range map[string]bool{"TRUE": true, "False": false, `"true"`: true, "'true'": true, "2": true, "13": true, "0": false, "-1": false, "tRuE": true} {
		c, err := Parse("", []string{"PGRST_DB_CHANNEL_ENABLED=" + v, "PGRST_JWT_SECRET_IS_BASE64=" + v})
		if err != nil || c.DBChannelEnabled != want || c.JWTSecretIsBase64 != want {
			t.Errorf("%s: %v %v", v, err, c)
		}
	}
	if _, err := Parse("", []string{"PGRST_DB_PLAN_ENABLED=maybe"}); err == nil {
		t.Error("a word that is no boolean must be refused")
	}
}

func TestPostgRESTValidation(t *testing.T) {
	for _, tc := range []struct{ env, want string }{
		{"PGRST_ADMIN_SERVER_PORT=3000", "admin-server-port cannot be the same as server-port"},
		{"PGRST_JWT_ROLE_CLAIM_KEY=$.my_role;;domain", "failed to parse role-claim-key value ($.my_role;;domain)"},
		{"PGRST_JWT_AUD=foo://%%$$^^.com", "jwt-aud should be a string or a valid URI"},
		{"PGRST_OPENAPI_SERVER_PROXY_URI=ftp://example.com", "Malformed proxy uri, a correct example: https://example.com:8443/basePath"},
		{"PGRST_OPENAPI_SERVER_PROXY_URI=https://example.com?x=1", "Malformed proxy uri"},
		{"PGRST_OPENAPI_SERVER_PROXY_URI=https://u@example.com", "Malformed proxy uri"},
		{"PGRST_OPENAPI_SERVER_PROXY_URI=https://example.com:0/", "Malformed proxy uri"},
		{"PGRST_OPENAPI_MODE=bogus", "Invalid openapi-mode. Check your configuration."},
		{"PGRST_CLIENT_ERROR_VERBOSITY=x", "Invalid client-error-verbosity. Check your configuration."},
		{"PGRST_SERVER_PORT=99999", `invalid value for server-port: "99999" (expected a port number from 0 to 65535)`},
		{"PGRST_DB_POOL=abc", `invalid value for db-pool: "abc" (expected an integer of at least 1)`},
		{"PGRST_DB_POOL=0", `invalid value for db-pool: "0" (expected an integer of at least 1)`},
		{"PGRST_SERVER_PORT=abc", `invalid value for server-port: "abc" (expected a port number from 0 to 65535)`},
		{"PGRST_DB_SCHEMAS=api, pg_catalog", "db-schemas does not allow schema: 'pg_catalog'"},
		{"PGRST_SERVER_UNIX_SOCKET_MODE=500", "Invalid server-unix-socket-mode: needs to be between 600 and 777"},
		{"PGRST_ADMIN_SERVER_UNIX_SOCKET_MODE=abc", "Invalid admin-server-unix-socket-mode: not an octal"},
	} {
		_, err := Parse("", []string{tc.env})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.env, err, tc.want)
		}
	}
	for _, ok := range []string{
		"PGRST_JWT_AUD=https://postgrest.org", "PGRST_JWT_AUD=my-audience", "PGRST_OPENAPI_SERVER_PROXY_URI=https://example.com:8443/basePath",
		`PGRST_JWT_ROLE_CLAIM_KEY=.roles[?(@ ^== "x")]`, `PGRST_JWT_ROLE_CLAIM_KEY=$.roles[?(@ *== "x")]`, `PGRST_JWT_ROLE_CLAIM_KEY=$.a."b-c"[0]`,
	} {
		if _, err := Parse("", []string{ok}); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}

func TestLegacyRoleClaimKey(t *testing.T) {
	for k, want := range map[string]bool{"$.role": false, ".role": true, `$.r[?(@ ^== "a")]`: true, `$.r[?search(@, "^a")]`: false, `."a-b"`: true} {
		if LegacyRoleClaimKey(k) != want {
			t.Errorf("%s: want %v", k, want)
		}
	}
}

func TestEnvAliases(t *testing.T) {
	c, err := Parse("", []string{"PGRST_MAX_ROWS=5", "PGRST_DB_SCHEMA=api", "PGRST_ROLE_CLAIM_KEY=$.r"})
	if err != nil || c.DBMaxRows == nil || *c.DBMaxRows != 5 || c.DBSchemas[0] != "api" || c.JWTRoleClaimKey != "$.r" {
		t.Fatalf("aliases from the environment: %v %+v", err, c)
	}
	c, _ = Parse("db-max-rows = 7\n", []string{"PGRST_MAX_ROWS=5", "PGRST_DB_SCHEMAS=a", "PGRST_DB_SCHEMA=b"})
	if *c.DBMaxRows != 7 || c.DBSchemas[0] != "a" {
		t.Errorf("the key's own name wins over an alias: %v %v", *c.DBMaxRows, c.DBSchemas)
	}
}
