package server

import (
	"strings"
	"testing"
)

func TestObjectKeys(t *testing.T) {
	for raw, want := range map[string]string{
		`{"a":1,"b":{"c":[1,{"d":2}]},"e":"f,\"g"}`: "a b e",
		` {"x\"y":[],"z":{}} `:                      `x\"y z`,
		`{}`:                                        "",
	} {
		keys, _, ok := objectFields([]byte(raw), nil, nil)
		var got []string
		for _, k := range keys {
			got = append(got, string(k))
		}
		if !ok || strings.Join(got, " ") != want {
			t.Errorf("%s: %q %v", raw, got, ok)
		}
	}
	for _, raw := range []string{`[1]`, `"a"`, `3`, ``} {
		if _, _, ok := objectFields([]byte(raw), nil, nil); ok {
			t.Errorf("%s: an object?", raw)
		}
	}
}
