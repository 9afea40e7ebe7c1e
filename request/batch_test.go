package request

import (
	"encoding/json"
	"io"
	"testing"

	"github.com/pgrest/pgrest/apierr"
)

func TestBatchReferences(t *testing.T) {
	body := `[
	  {"method": "post", "path": "/a", "body": {"x": 1}},
	  {"method": "GET", "path": "/b?id=eq.${/0/body/0/id}&n=in.(%24%7B/0/body/0/n%7D)&t=eq.$%7b/0/headers/X~1Y%7d"},
	  {"method": "PATCH", "path": "/c", "body": [{"id": {"$ref": "/1/body"}, "keep": {"$ref": "/0/status", "extra": 1}}]}
	]`
	ops, bad, err := ParseBatch([]byte(body), 10)
	if err != nil {
		t.Fatalf("op %d: %v", bad, err)
	}
	if ops[0].HasRefs() || !ops[1].HasRefs() || !ops[2].HasRefs() || ops[0].Method != "POST" {
		t.Fatalf("refs %v %v %v", ops[0].HasRefs(), ops[1].HasRefs(), ops[2].HasRefs())
	}
	results := []any{
		map[string]any{"status": json.Number("201"), "headers": map[string]any{"X/Y": "a b&c"},
			"body": []any{map[string]any{"id": "it's", "n": json.Number("7")}}},
		map[string]any{"status": json.Number("200"), "headers": map[string]any{}, "body": []any{json.Number("1"), nil}},
	}
	op, err := ops[1].Resolve(1, results)
	if err != nil {
		t.Fatal(err)
	}
	if want := "/b?id=eq.it%27s&n=in.(7)&t=eq.a+b%26c"; op.Path != want {
		t.Fatalf("path %q, want %q", op.Path, want)
	}
	op, err = ops[2].Resolve(2, results)
	if err != nil {
		t.Fatal(err)
	}
	if want := `[{"id":[1,null],"keep":{"$ref":"/0/status","extra":1}}]`; string(op.Body) != want {
		t.Fatalf("body %s, want %s", op.Body, want)
	}
	hr, err := op.HTTPRequest(2)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(hr.Body)
	if string(b) != string(op.Body) || hr.Header.Get("Content-Type") != "application/json" || hr.Method != "PATCH" {
		t.Fatalf("request %s %q %s", hr.Method, hr.Header, b)
	}
	// The batch is unchanged: resolving works on a copy.
	if ops[2].tree == nil || op.tree != nil {
		t.Fatal("resolve edited the batch")
	}
	if _, err := ops[1].Resolve(1, []any{map[string]any{"body": []any{}}}); err == nil || apierr.As(err).Code != "PGRST604" {
		t.Fatalf("missing path: %v", err)
	}
}

func TestBatchPointerErrors(t *testing.T) {
	for ref, code := range map[string]string{
		`"/1/body"`: "PGRST603", `"/2"`: "PGRST603", `"/01/body"`: "PGRST602", `""`: "PGRST602",
		`"/-1"`: "PGRST602", `"/0/a~"`: "PGRST602", `null`: "PGRST602", `"/99999999999"`: "PGRST602",
	} {
		body := `[{"method": "GET", "path": "/a"}, {"method": "POST", "path": "/b", "body": {"v": {"$ref": ` + ref + `}}}]`
		_, bad, err := ParseBatch([]byte(body), 0)
		if err == nil || apierr.As(err).Code != code || bad != 1 {
			t.Errorf("%s: op %d, %v; want %s", ref, bad, err, code)
		}
	}
	// A CSV body is sent as the text it is.
	ops, _, err := ParseBatch([]byte(`[{"method": "POST", "path": "/a", "headers": {"content-type": "text/csv"}, "body": "id\n1"}]`), 1)
	if err != nil || string(ops[0].Body) != "id\n1" {
		t.Fatalf("csv body %q, %v", ops[0].Body, err)
	}
}

// A batch read in one pass and one read operation by operation agree:
// anything the one pass does not take is reported by operation.
func TestBatchParseFallback(t *testing.T) {
	for body, want := range map[string]int{
		`[{"method": "GET", "path": "/a"}] x`:                  -1,
		`[{"method": "GET", "path": "/a"}, null]`:              1,
		`[{"method": "GET", "path": "/a"}, {"method": "GET"}]`: 1,
		`[{"method": "GET", "path": "/a", "Extra": 1}]`:        0,
		`[{"method": "GET", "path": "/a"}, "x"]`:               1,
	} {
		if _, bad, err := ParseBatch([]byte(body), 10); err == nil || bad != want {
			t.Errorf("%s: operation %d (%v), want %d", body, bad, err, want)
		}
	}
	ops, _, err := ParseBatch([]byte(` [{"method": "get", "path": "/a?x=1", "headers": {"prefer": "count=exact"}, "body": {"a": [1]}}] `), 10)
	if err != nil || ops[0].Method != "GET" || ops[0].Headers.Get("Prefer") != "count=exact" || string(ops[0].Body) != `{"a": [1]}` {
		t.Fatalf("%+v %v", ops, err)
	}
}
