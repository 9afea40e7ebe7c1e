package request

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

var fastBatchSeeds = []string{
	batchBench10,
	`[{"method": "GET", "path": "/a"}]`,
	` [ { "method" : "get" , "path" : "/a?x=1" , "headers" : { "prefer" : "count=exact" } , "body" : { "a" : [ 1 ] } } ] `,
	"[\n\t{\"method\":\"POST\",\r\n\"path\":\"/items\",\"body\":[{\"a\":1},{\"a\":2}]}\n]\n",
	`[{"method": "POST", "path": "/items", "headers": {"Prefer": "return=representation"}, "body": {"id": 1, "name": "a"}},
	  {"method": "PATCH", "path": "/items?id=eq.${/0/body/0/id}", "body": {"name": {"$ref": "/0/body/0/name"}, "x": [{"$ref": "/0/status"}]}}]`,
	`[{"method":"GET","path":"/a?q=\u0026\u003c\u003e\"\\\/\b\f\n\r\t\u00e9\u20ac"}]`,
	`[{"method":"GET","path":"/a?q=\ud83d\ude00\ud800x\udc00"}]`,
	`[{"method":"GET","path":"/é/ü?x=日本","headers":{"Accept":"text/csv"}}]`,
	"[{\"method\":\"GET\",\"path\":\"/a\xff\xfe\"}]",
	`[{"METHOD":"get","Path":"/a","HeAdErS":{"Range":"0-1"},"BODY":null}]`,
	`[{"method":"GET","method":"POST","path":"/a","path":"/b","body":1,"body":{"c":2}}]`,
	`[{"method":"GET","method":null,"path":"/a","path":null}]`,
	`[{"method":"GET","path":"/a","headers":{"Prefer":"a","Prefer":"b"}}]`,
	`[{"method":"GET","path":"/a","headers":{"Prefer":"a"},"headers":{"Accept":"b"}}]`,
	`[{"method":"GET","path":"/a","headers":{"Prefer":"a"},"headers":null,"headers":{"Range":"0-0"}}]`,
	`[{"method":"GET","path":"/a","headers":{"Prefer":null}}]`,
	`[{"method":"GET","path":"/a","headers":{"prefer":"a","Prefer":"b"}}]`,
	`[{"method":"GET","path":"/a","headers":{"X-A":"a","X-B":"b"}}]`,
	`[{"method":"GET","path":"/a","headers":{"X-A":"a","Prefer":"b"}}]`,
	`[{"method":"GET","path":"/a","headers":{"Pr\u0065fer":"a"}}]`,
	`[{"m\u0065thod":"GET","path":"/a"}]`,
	`[{"headerſ":{"Prefer":"x"},"method":"GET","path":"/a"}]`,
	`[{"method":1,"path":"/a"}]`,
	`[{"method":"GET","path":["/a"]}]`,
	`[{"method":"GET","path":"/a","headers":{"Prefer":1}}]`,
	`[{"method":"GET","path":"/a","headers":[]}]`,
	`[{"method":"GET","path":"/a","extra":1}]`,
	`[{"method":"GET","path":"/a"}] x`,
	`[{"method":"GET","path":"/a"},]`,
	`[{"method":"GET","path":"/a"} {"method":"GET","path":"/b"}]`,
	`[{"method":"GET","path":"/a"}, null]`,
	`[{"method":"GET","path":"/a"}, "x"]`,
	`[]`, `{}`, `null`, ``, `[{}]`,
	`[{"method":"POST","path":"/a","headers":{"Content-Type":"text/csv"},"body":"a,b\n1,2"}]`,
	`[{"method":"POST","path":"/a","headers":{"Content-Type":"text/plain"},"body":"x\u0000\ud800"}]`,
	`[{"method":"POST","path":"/a","body":{"$ref":1}},{"method":"GET","path":"/b?x=${/0/body}"}]`,
	`[{"method":"GET","path":"/b?x=${/1/body}"}]`,
	`[{"method":"DELETE","path":"/"}]`,
	`[{"method":"GET","path":"/a#x"}]`,
	`[{"method":"TRACE","path":"/a"}]`,
	`[{"method":"GET","path":"/a%zz"}]`,
	`[{"method":"POST","path":"/a","body":{"x":1e400,"y":-0.5E-3,"z":[true,false,null]}}]`,
	`[{"method":"POST","path":"/a","body":{"x":01}}]`,
	`[{"method":"POST","path":"/a","body":{"x":"\x"}}]`,
	`[{"method":"GET","path":"/a?x=\u0000\u001f","headers":{"Prefer":"\u0000\t"}}]`,
	`[{"method":"GET","path":"/a?q=\\\"\\","headers":{"X\\":"\\"}}]`,
	`[{"method":"GET","path":"/a"}]` + "\n\t ",
}

// FuzzFastOps: whenever fastOps reads a batch itself, encoding/json reads
// the same operations, and ParseBatch's answer (operations, or the error
// and the operation at fault) is the one encoding/json's reader gives.
// When fastOps gives up, ParseBatch is that reader: nothing to compare.
func FuzzFastOps(f *testing.F) {
	for _, s := range fastBatchSeeds {
		f.Add([]byte(s), uint8(10))
	}
	f.Add([]byte(batchBench10), uint8(9))
	f.Add([]byte(batchBench10), uint8(0))
	f.Fuzz(func(t *testing.T, body []byte, max uint8) {
		orig := string(body)
		ws := fastOps(body, int(max))
		if ws == nil {
			return
		}
		if want := decodeOps(body, int(max)); !sameOps(ws, want) {
			t.Fatalf("%q:\n got %+v\nwant %+v", body, ws, want)
		}
		ops, bad, err := ParseBatch(body, int(max))
		if string(body) != orig {
			t.Fatalf("ParseBatch edited its input")
		}
		// A body with several references is walked as a map, in any
		// order, so which bad one is reported varies from run to run: the
		// answer must be one the reader gives. A small map starts its walk
		// at one of 8 slots, so one order can come 1 time in 8: 50 tries
		// missed it about once in 7,000 such bodies, 1,000 do not.
		for try := 0; ; try++ {
			wops, wbad, werr := parseBatchDecoder(body, int(max))
			if bad == wbad && reflect.DeepEqual(err, werr) && reflect.DeepEqual(ops, wops) {
				return
			}
			if try == 1000 {
				t.Fatalf("%q:\n got %d %v %#v\nwant %d %v %#v", body, bad, err, ops, wbad, werr, wops)
			}
		}
	})
}

// sameOps: the operations read by fastOps are those encoding/json read,
// headers aside in the order they came.
func sameOps(got, want []wireOp) bool {
	if len(got) != len(want) {
		return false
	}
	for k, g := range got {
		w := want[k]
		hs := map[string]string{}
		for _, h := range g.pairs {
			hs[h.name] = h.value
		}
		if len(w.Headers) == 0 {
			w.Headers = map[string]string{}
		}
		if g.Method != w.Method || g.Path != w.Path || !reflect.DeepEqual(hs, w.Headers) ||
			string(g.Body) != string(w.Body) || (g.Body == nil) != (w.Body == nil) || g.Headers != nil || w.pairs != nil {
			return false
		}
	}
	return true
}

// The fast reader must take the batches clients send, or it saves nothing.
func TestFastOpsReadsCommonBatches(t *testing.T) {
	for _, s := range fastBatchSeeds[:15] {
		if fastOps([]byte(s), 10) == nil {
			t.Errorf("fastOps gave up on %s", s)
		}
	}
}

// FuzzValidJSON: ValidJSON is json.Valid wherever it answers for gjson;
// where it does not (too many brackets) it says false, and the caller
// falls back to encoding/json.
func FuzzValidJSON(f *testing.F) {
	for _, s := range []string{
		``, ` `, `0`, `-0`, `01`, `-01`, `1.`, `1.5e+3`, `1E-0`, `1e+`, `-`, `.5`, `+1`, `1e`, `tru`, `true `, `nul`, `null`, `nulll`,
		`"a\u00e9\n\"\\\/"`, `"\x"`, `"\u12G4"`, `"\ud800"`, "\"\x01\"", "\"\x7f\"", "\"\xff\xfe\"", "\"\xed\xa0\x80\"", `"`,
		`{}`, `{"a":1,"b":[1,2,{"c":null}]}`, `{"a":1,}`, `{"a" 1}`, `{1:2}`, `[1,]`, `[,1]`, `[1 2]`,
		`[] []`, `{"a":1}}`, ` [ { } , [ ] ] `, "\t\r\n{}\n", "\ufeff{}", "{}\x00", "\f{}",
		strings.Repeat("[", 300) + strings.Repeat("]", 300),
		strings.Repeat("[", maxNesting) + strings.Repeat("]", maxNesting),
		strings.Repeat("[", maxNesting+1) + strings.Repeat("]", maxNesting+1),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, want := ValidJSON(b), json.Valid(b)
		checked := bytes.Count(b, []byte("["))+bytes.Count(b, []byte("{")) <= maxNesting
		if got && !want || !got && want && checked {
			t.Fatalf("ValidJSON(%q) = %v, encoding/json says %v", b, got, want)
		}
	})
}
