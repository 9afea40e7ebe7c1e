package integration

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pgrest/pgrest/embedpg"
	"github.com/pgrest/pgrest/server/config"
)

// curlCall is one documented curl command line, parsed.
type curlCall struct {
	line    string
	method  string
	url     string
	headers [][2]string
	body    string
	head    bool
	// stream: -N, a realtime subscription (its response never ends).
	stream bool
}

// shellWords splits a command line as sh would for the quoting the docs
// use (single and double quotes, no escapes inside single quotes), and
// drops a trailing # comment.
func shellWords(s string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'' || c == '"':
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				j = len(s) - i - 1
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '#' && !inWord:
			return words
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// parseCurl understands the curl options the docs use.
func parseCurl(t *testing.T, line string) curlCall {
	t.Helper()
	w := shellWords(strings.TrimSpace(line))
	c := curlCall{line: line, method: http.MethodGet}
	for i := 1; i < len(w); i++ {
		switch w[i] {
		case "-g", "--globoff", "-s", "--silent", "-i", "--include", "-v":
		case "-N", "--no-buffer":
			c.stream = true
		case "-I", "--head":
			c.method, c.head = http.MethodHead, true
		case "-X", "--request":
			i++
			c.method = w[i]
		case "-H", "--header":
			i++
			k, v, _ := strings.Cut(w[i], ":")
			c.headers = append(c.headers, [2]string{strings.TrimSpace(k), strings.TrimSpace(v)})
		case "-d", "--data", "--data-raw":
			i++
			c.body = w[i]
			if c.method == http.MethodGet {
				c.method = http.MethodPost
			}
		default:
			if strings.HasPrefix(w[i], "-") || c.url != "" {
				t.Fatalf("%q: curl option or argument %q is not understood by this test", line, w[i])
			}
			c.url = w[i]
		}
	}
	if c.url == "" {
		t.Fatalf("%q: no URL", line)
	}
	return c
}

// docCurls returns the curl lines of README.md (on localhost:3000) and of
// the demo's printed examples in main.go (on its %[1]s placeholder), with
// the server URL replaced by base.
func docCurls(t *testing.T, base string) []string {
	t.Helper()
	var lines []string
	curlLine := regexp.MustCompile(`^\s*(\$ )?curl\s.*$`)
	for file, host := range map[string]string{"../README.md": "http://localhost:3000", "../main.go": "%[1]s"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, l := range strings.Split(string(b), "\n") {
			if curlLine.MatchString(l) && strings.Contains(l, host) {
				lines = append(lines, strings.ReplaceAll(l, host, base))
				n++
			}
		}
		if n < 3 {
			t.Fatalf("%s: found %d curl examples on %s; did the format change?", file, n, host)
		}
	}
	return lines
}

// TestDocExamples replays every curl example of README.md and of `pgrest
// demo` against pgrest serving the demo schema: each must succeed with a
// body that makes sense for its media type.
func TestDocExamples(t *testing.T) {
	// The harness cluster has the demo's roles already.
	roles := regexp.MustCompile(`(?m)^(CREATE ROLE|GRANT web_anon TO) [^;]*;$`)
	sql := roles.ReplaceAllString(embedpg.DemoSQL, "")
	// Realtime, as the demo runs it: logical replication and a publication.
	db, slot := realtimeDBIn(t, sql, []string{"api"})
	p := StartPgrest(t, db, func(c *config.Config) {
		c.DBSchemas = []string{"api"}
		c.RealtimeEnabled, c.RealtimeSlotPrefix = true, slot
	})
	for _, line := range docCurls(t, p.URL) {
		c := parseCurl(t, line)
		if c.stream {
			checkStream(t, c)
			continue
		}
		var hs []string
		for _, h := range c.headers {
			hs = append(hs, h[0]+": "+h[1])
		}
		r := p.Do(c.method, strings.TrimPrefix(c.url, p.URL), c.body, hs...)
		if r.Status < 200 || r.Status > 299 {
			t.Errorf("%s\n  status %d: %s", strings.TrimSpace(line), r.Status, r.Body)
			continue
		}
		if msg := saneBody(r, c.head); msg != "" {
			t.Errorf("%s\n  %s: %s", strings.TrimSpace(line), msg, r.Body)
		}
	}
}

// saneBody says what is wrong with a documented example's response body.
func saneBody(r *Resp, head bool) string {
	ct := r.Header.Get("Content-Type")
	switch {
	case head:
		if len(r.Body) != 0 {
			return "HEAD with a body"
		}
	case strings.Contains(ct, "json"):
		var v any
		if err := json.Unmarshal(r.Body, &v); err != nil {
			return "not JSON: " + err.Error()
		}
		if a, ok := v.([]any); ok && len(a) == 0 {
			return "an empty result"
		}
		if o, ok := v.(map[string]any); ok && len(o) == 0 {
			return "an empty object"
		}
	case strings.HasPrefix(ct, "text/csv"):
		if strings.Count(string(r.Body), "\n") < 1 {
			return "CSV without rows"
		}
	default:
		return "unexpected Content-Type " + ct
	}
	return ""
}

// checkStream opens a documented subscription and checks that it is one;
// its response never ends, so it is closed once the headers arrived.
func checkStream(t *testing.T, c curlCall) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, c.method, c.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range c.headers {
		req.Header.Add(h[0], h[1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("%s: %v", strings.TrimSpace(c.line), err)
		return
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		t.Errorf("%s: %d %s %s", strings.TrimSpace(c.line), res.StatusCode, res.Header.Get("Content-Type"), b)
	}
}
