package planner

import (
	"reflect"
	"strings"
	"testing"
)

var fastRowSeeds = []string{
	`{"album_id":7,"title":"bench","track_no":99,"duration_ms":300000,"price":0.99}`,
	`[{"order_id":2,"qty":2,"sku":"y"},{"order_id":2,"qty":3,"sku":"z"}]`,
	` [ { "a" : 1 , "b" : { "c" : [ 1 , { "d" : 2 } ] } } , { "b" : [ ] , "a" : "x" } ] `,
	"\n\t{\"a\"\r\n:\ttrue,\"b\":-1.5e3 ,\"c\":false}\n",
	`[{"a":1},{"a":1,"b":2}]`, `[{"a":1,"b":2},{"a":1,"a":2}]`, `[{"a":1},{"b":1}]`,
	`[{"a":1},1]`, `[{"a":1},null]`, `[1,{"a":1}]`, `[{"a":1},{"b":1},{]`, `[{"a":1}`, `{"a":1}{}`,
	`"x"`, `"x" 1`, `1`, `null`, `[]`, `{}`, `[{}]`, `[{},{}]`, `[{},{"a":1}]`, ``, ` `,
	`{"a":1,"a":2}`, `[{"a":1,"a":2},{"a":3}]`,
	`{"\u0061b":1,"c\"d":2,"e\\f":3}`, `[{"\u0061":1},{"a":2}]`, `[{"a":1},{"\u0061":2}]`,
	"{\"\xff\":1}", "[{\"\xff\":1},{\"\xff\":2}]", "[{\"\\ufffd\":1},{\"\xff\":2}]",
	`{"é":"ü","日本":[{"x":"}]{[,:\""}]}`, `[{"a":"\ud800"},{"a":"\ud83d\ude00"}]`,
	`{"a":1e400,"b":[true,false,null],"c":{"d":{"e":{}}}}`, `{"a":01}`, `{"a":"\x"}`,
	`[{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9},{"i":0,"h":0,"g":0,"f":0,"e":0,"d":0,"c":0,"b":0,"a":0}]`,
	`[{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9},{"i":0,"h":0,"g":0,"f":0,"e":0,"d":0,"c":0,"b":0,"j":0}]`,
	`{"a\\":1,"b\\\"":2,"c\u0000":"\\"}`, `[{"a\\":1},{"a\u005c":2}]`,
	strings.Repeat("[", 250) + strings.Repeat("]", 250),
	`[` + strings.Repeat(`{"a":[`, 120) + strings.Repeat(`]}`, 120) + `]`,
}

// fastWants are the want lists the fuzzer picks from (by index).
var fastWants = [][]string{nil, {}, {"a"}, {"a", "b"}, {"b", "c", "é"}, {"\ufffd", "a"}}

// FuzzScanRowsFast: whenever scanRowsFast reads a body itself, the payload
// or the error is the one json.Decoder's walk gives.
func FuzzScanRowsFast(f *testing.F) {
	for i, s := range fastRowSeeds {
		f.Add([]byte(s), i%2 == 0, uint8(i))
	}
	f.Fuzz(func(t *testing.T, body []byte, uniform bool, w uint8) {
		want := fastWants[int(w)%len(fastWants)]
		p, err := scanRowsFast(body, uniform, want)
		if p == nil && err == nil {
			return
		}
		wp, werr := scanRowsDecoder(body, uniform, want)
		if !reflect.DeepEqual(err, werr) {
			t.Fatalf("%q: error %v, want %v", body, err, werr)
		}
		if !reflect.DeepEqual(p, wp) {
			t.Fatalf("%q:\n got %#v\nwant %#v", body, p, wp)
		}
	})
}

// The fast reader must take the bodies clients send, or it saves nothing.
func TestScanRowsFastReadsCommonBodies(t *testing.T) {
	for _, s := range fastRowSeeds[:7] {
		if p, err := scanRowsFast([]byte(s), true, nil); p == nil && err == nil {
			t.Errorf("scanRowsFast gave up on %s", s)
		}
	}
}

// More brackets than encoding/json allows levels: gjson's checker is not
// trusted there, and the decoder reads the body (many rows) or refuses it
// (too deep), as before.
func TestScanRowsFastLeavesManyBrackets(t *testing.T) {
	rows := []byte("[" + strings.Repeat(`{"a":1},`, 12000) + `{"a":2}]`)
	if p, err := scanRowsFast(rows, true, nil); p != nil || err != nil {
		t.Fatalf("scanRowsFast read 12001 rows itself: %v %v", p, err)
	}
	if p, err := scanJSONRows(rows, true, nil); err != nil || p.n != 12001 {
		t.Fatalf("many rows: %v %v", p, err)
	}
	deep := []byte(strings.Repeat("[", 10001) + strings.Repeat("]", 10001))
	if _, err := scanJSONRows(deep, true, nil); err == nil {
		t.Fatal("a body nested deeper than encoding/json allows was read")
	}
}
