package server

import (
	"bytes"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pgrest/pgrest/server/config"
)

func TestRequestLogLevels(t *testing.T) {
	statuses := []int{200, 404, 500}
	for level, want := range map[string][]bool{
		"crit":  {false, false, false},
		"error": {false, false, true},
		"warn":  {false, true, true},
		"info":  {true, true, true},
		"debug": {true, true, true},
	} {
		for i, st := range statuses {
			if got := logsStatus(level, st); got != want[i] {
				t.Errorf("%s %d: %v", level, st, got)
			}
		}
	}
}

func TestApacheLine(t *testing.T) {
	r := httptest.NewRequest("GET", "/items?id=eq.1", nil)
	r.RemoteAddr = "10.0.0.7:5555"
	r.Header.Set("Referer", "http://x/")
	r.Header.Set("User-Agent", "ua/1")
	at := time.Date(2026, 11, 30, 0, 30, 0, 0, time.UTC)
	line := string(apacheLine(r, &statusWriter{status: 200, size: 27}, "web_anon", at))
	if want := `10.0.0.7 - web_anon [30/Nov/2026:00:30:00 +0000] "GET /items?id=eq.1 HTTP/1.1" 200 27 "http://x/" "ua/1"` + "\n"; line != want {
		t.Errorf("got  %q\nwant %q", line, want)
	}
	if line := string(apacheLine(r, &statusWriter{status: 204}, "", at)); !strings.Contains(line, " - - [") || !strings.Contains(line, `" 204 - "`) {
		t.Errorf("no role, no body: %q", line)
	}
}

func TestTextLog(t *testing.T) {
	var buf bytes.Buffer
	cfg := config.Default()
	log, setLevel := NewLogger(cfg, &buf)
	log.Log().Msg("API server listening on 127.0.0.1:3000")
	log.Info().Msg("hidden at error")
	setLevel("info")
	log.Info().Str("query", "SELECT 1\n  FROM x").Msg("main query")
	log.Error().Err(errString("boom")).Msg("failed")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	stamp := `^[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}: `
	want := []string{"API server listening on 127.0.0.1:3000", "SELECT 1   FROM x", "failed: boom"}
	if len(lines) != len(want) {
		t.Fatalf("lines:\n%s", buf.String())
	}
	for i, w := range want {
		if !regexp.MustCompile(stamp + regexp.QuoteMeta(w) + "$").MatchString(lines[i]) {
			t.Errorf("line %d = %q, want ...%s", i, lines[i], w)
		}
	}
}

type errString string

func (e errString) Error() string { return string(e) }
