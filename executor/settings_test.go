package executor

import (
	"strconv"
	"strings"
	"testing"
)

// The settings statement's text is shared per set of names: its
// placeholders must match the arguments of every request, one each.
func TestSettingsStatement(t *testing.T) {
	tc := &TxContext{Role: "web_anon", SearchPath: `"api"`, ClaimsJSON: "{}", Method: "GET", Path: "/t",
		HeadersJSON: "{}", CookiesJSON: "{}", AppSettings: map[string]string{"b": "2", "a": "1"}}
	for _, c := range []struct {
		implicit, readOnly bool
		tz                 string
		extra              map[string]string
	}{
		{false, false, "", nil},
		{true, false, "UTC", nil},
		{true, true, "", map[string]string{"statement_timeout": "5s"}},
		{false, true, "", nil}, // READ ONLY is BEGIN's then
	} {
		tc.Timezone = c.tz
		sql, args := settingsStatement(tc, c.extra, c.implicit, c.readOnly)
		n := strings.Count(sql, "set_config(")
		if n != len(args) || !strings.Contains(sql, "$"+strconv.Itoa(len(args))+", true)") || strings.Contains(sql, "$"+strconv.Itoa(len(args)+1)) {
			t.Fatalf("%d set_config for %d args: %s", n, len(args), sql)
		}
		if !strings.HasPrefix(sql, "select set_config('search_path', $1, true), set_config('role', $2, true)") || args[0] != `"api"` {
			t.Fatalf("not PostgREST's text: %s %v", sql, args)
		}
		hasRO := strings.Contains(sql, "set_config('transaction_read_only'")
		if hasRO != (c.implicit && c.readOnly) {
			t.Fatalf("implicit=%v readOnly=%v: transaction_read_only set=%v", c.implicit, c.readOnly, hasRO)
		}
	}
	if got := setConfigSQL([]string{"a'b"}); got != "select set_config('a''b', $1, true)" {
		t.Fatalf("a quote in a name: %s", got)
	}
}

func TestBeginSQL(t *testing.T) {
	for _, c := range []struct {
		iso  string
		ro   bool
		want string
	}{
		{"", false, "BEGIN ISOLATION LEVEL READ COMMITTED"},
		{"Serializable ", true, "BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY"},
		{"repeatable read", false, "BEGIN ISOLATION LEVEL REPEATABLE READ"},
		{"read committed", true, "BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY"},
	} {
		if got := beginSQL(c.iso, c.ro); got != c.want {
			t.Errorf("beginSQL(%q, %v) = %q, want %q", c.iso, c.ro, got, c.want)
		}
	}
	if defaultIsolation("serializable") || !defaultIsolation("read committed") || !defaultIsolation("") {
		t.Error("defaultIsolation")
	}
}
