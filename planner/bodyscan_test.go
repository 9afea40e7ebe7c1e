package planner

import (
	"encoding/json"
	"slices"
	"sort"
	"testing"

	"github.com/pgrest/pgrest/apierr"
)

// objectKeys must find the keys encoding/json finds, whatever the values hold.
func TestObjectKeys(t *testing.T) {
	for _, obj := range []string{
		`{}`, ` { } `, `{"a":1}`, `{ "a" : 1 , "b" : "x" }`,
		`{"a":{"b":{"c":[1,{"d":2}]}},"e":[[],[{}]],"f":null}`,
		`{"a":"}]{[,:\"","b":"\\","c":"\\\"}"}`,
		`{"\u0061b":1,"c\"d":2,"e\\f":3}`,
		"{\n\t\"a\"\r\n:\ttrue,\"b\":-1.5e3 ,\"c\":false}",
		`{"a":1,"a":2}`, `{"":""}`, `{"a":[1,2,3],"b":{"x":"y"},"c":"z"}`,
	} {
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(obj), &m); err != nil {
			t.Fatalf("%s: %v", obj, err)
		}
		var want, got []string
		for k := range m {
			want = append(want, k)
		}
		objectKeys([]byte(obj), func(k []byte) {
			if !slices.Contains(got, string(k)) {
				got = append(got, string(k))
			}
		})
		sort.Strings(want)
		sort.Strings(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: keys %q, want %q", obj, got, want)
		}
	}
}

func TestScanJSONRows(t *testing.T) {
	for body, want := range map[string]string{
		`[{"a":1,"b":{"c":2}},{"b":[],"a":"x"}]`: "",
		`[{"a":1},{"a":1,"b":2}]`:                "All object keys must match",
		`[{"a":1,"b":2},{"a":1,"a":2}]`:          "All object keys must match",
		`[{"a":1},{"b":1}]`:                      "All object keys must match",
		`[{"a":1},1]`:                            "All object keys must match",
		`[{"a":1},{"b":1},{]`:                    "Empty or invalid json",
		`[{"a":1}`:                               "Empty or invalid json",
		`{"a":1}{}`:                              "Empty or invalid json",
		`"x"`:                                    "",
		`"x" 1`:                                  "Empty or invalid json",
	} {
		got := ""
		if _, err := scanJSONRows([]byte(body), true, nil); err != nil {
			got = err.(*apierr.Error).Message
		}
		if got != want {
			t.Errorf("%s: %q, want %q", body, got, want)
		}
	}
	p, err := scanJSONRows([]byte(`[{"a":1,"b":2},{"b":3},{"c":4}]`), false, []string{"a", "b"})
	if err != nil || p.n != 3 || !slices.Equal(p.present, []bool{true, true, false, true, false, false}) || string(p.first["b"]) != "2" {
		t.Fatalf("presence: %+v, %v", p, err)
	}
}
