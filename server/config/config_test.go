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
	if c.AppSettings["greeting"] != `hello "world"` || c.AppSettings["color"] != "blue" {
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
		c.JWTRoleClaimKey != ".role" || c.OpenAPIMode != "follow-privileges" || c.DBPoolAcquisitionTimeout != 10*time.Second {
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
