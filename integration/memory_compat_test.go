package integration

import (
	"encoding/json"
	"strconv"
	"testing"
)

// A JSON write body is checked by one streaming pass and handed to
// PostgreSQL as sent: these pin the pass's verdicts and the rows it lets
// through, whatever the body's shape.
const stockFixture = `
CREATE TABLE stock (
  sku int PRIMARY KEY,
  label text NOT NULL DEFAULT 'unlabelled',
  qty int DEFAULT 7);
GRANT SELECT, INSERT, UPDATE ON stock TO web_anon;
`

func TestStreamingBodyErrors(t *testing.T) {
	p := StartPgrest(t, NewDB(t, stockFixture), nil)
	invalid := []string{
		``, ` `, `[`, `{"sku":1`,
		`[{"sku":1},{"sku":`,                          // cut mid-array
		`[{"sku":1},{"sku":2,}]`,                      // trailing comma
		`[{"sku":1} {"sku":2}]`,                       // missing comma
		`[{"sku":1},{"label":"x"},{"sku"`,             // mixed keys, then invalid: invalid wins
		`[{"sku":1}, 2, nope]`,                        // a non-object, then invalid
		`{"sku":1} {"sku":2}`, `[] []`, `{"sku":1} x`, // trailing data
		`{"sku":01}`, `[{"sku":1,"label":"a\x"}]`,
	}
	for _, body := range invalid {
		e := p.Do("POST", "/stock", body, jsonCT).ExpectError(t, 400, "PGRST102")
		if e["message"] != "Empty or invalid json" {
			t.Fatalf("%q: message %v", body, e["message"])
		}
	}
	mismatch := []string{
		`[{"sku":1,"label":"a"},{"sku":2}]`,
		`[{"sku":1},{"sku":2,"label":"b"}]`,
		`[{"sku":1},{"label":"b"}]`,
		`[{"sku":1},{"sku":2,"sku":3}, {"qty":1}]`,
		`[{"sku":1}, 2]`, `[{"sku":1}, [{"sku":2}]]`, `[{"sku":1}, null]`, `["a"]`, `[[]]`,
	}
	for _, body := range mismatch {
		e := p.Do("POST", "/stock", body, jsonCT).ExpectError(t, 400, "PGRST102")
		if e["message"] != "All object keys must match" {
			t.Fatalf("%q: message %v", body, e["message"])
		}
	}
	// Elements must be objects even when columns= lifts the same-keys rule.
	p.Do("POST", "/stock?columns=sku", `[{"sku":1}, 2]`, jsonCT).ExpectError(t, 400, "PGRST102")
	p.Get("/stock").Expect(t, 200).JSONEq(t, `[]`)
}

func TestStreamingBodyRows(t *testing.T) {
	p := StartPgrest(t, NewDB(t, stockFixture), nil)
	// Key order, whitespace and repeated keys (the last one counts) do not
	// make rows differ.
	p.Do("POST", "/stock", " [ {\"sku\":1,\"label\":\"a\"} ,\n{\"label\":\"b\",\"sku\":2},{\"sku\":3,\"label\":\"x\",\"label\":\"c\"} ] ", jsonCT).Expect(t, 201)
	// One object is one row; a scalar is none.
	p.Do("POST", "/stock", `{"sku":4,"label":"d","qty":1}`, jsonCT).Expect(t, 201)
	p.Do("POST", "/stock", `5`, jsonCT).Expect(t, 201)
	p.Get("/stock?select=sku,label,qty&order=sku").Expect(t, 200).JSONEq(t,
		`[{"sku":1,"label":"a","qty":7},{"sku":2,"label":"b","qty":7},{"sku":3,"label":"c","qty":7},{"sku":4,"label":"d","qty":1}]`)
	// columns= with missing=default: each row's own missing keys default.
	p.Do("POST", "/stock?columns=sku,label,qty", `[{"sku":5},{"sku":6,"qty":2,"extra":true},{"sku":7,"label":"g"}]`,
		jsonCT, "Prefer: missing=default").Expect(t, 201)
	p.Get("/stock?select=sku,label,qty&sku=gt.4&order=sku").Expect(t, 200).JSONEq(t,
		`[{"sku":5,"label":"unlabelled","qty":7},{"sku":6,"label":"unlabelled","qty":2},{"sku":7,"label":"g","qty":7}]`)
	// PATCH and PUT read the first row, of an array or as an object.
	p.Do("PATCH", "/stock?sku=eq.1", `{"qty":10}`, jsonCT).Expect(t, 204)
	p.Do("PATCH", "/stock?sku=eq.2", `[{"qty":20},{"qty":99}]`, jsonCT).Expect(t, 204)
	p.Do("PATCH", "/stock?sku=eq.3", `[{"qty":30}]`, jsonCT, "Prefer: missing=default").Expect(t, 204)
	p.Do("PUT", "/stock?sku=eq.4", `[{"sku":4,"label":"dd","qty":40},{"sku":99,"label":"z","qty":0}]`, jsonCT).Expect(t, 204)
	p.Do("PUT", "/stock?sku=eq.8", `{"sku":8,"label":"h","qty":80}`, jsonCT).Expect(t, 204)
	p.Do("PUT", "/stock?sku=eq.9", `[{"sku":8,"label":"h","qty":80}]`, jsonCT).ExpectError(t, 400, "PGRST115")
	p.Get("/stock?select=sku,label,qty&or=(sku.lt.5,sku.gt.7)&order=sku").Expect(t, 200).JSONEq(t,
		`[{"sku":1,"label":"a","qty":10},{"sku":2,"label":"b","qty":20},{"sku":3,"label":"c","qty":30},{"sku":4,"label":"dd","qty":40},{"sku":8,"label":"h","qty":80}]`)
	// A body the pass accepts but PostgreSQL reads differently still fails
	// as a whole, with nothing written.
	p.Do("POST", "/stock", `[{"sku":10,"qty":1},{"sku":11,"qty":"many"}]`, jsonCT).Expect(t, 400)
	p.Get("/stock?sku=gte.10").Expect(t, 200).JSONEq(t, `[]`)
}

// A read's body is written from pgx's buffer while the transaction is
// still open: whatever the response (large, CSV, HEAD, an error decided
// from the row), it must be whole and alone.
func TestReadBodySentInPlace(t *testing.T) {
	p := StartPgrest(t, NewDB(t, stockFixture+`
INSERT INTO stock SELECT i, 'label ' || i, i FROM generate_series(1, 20000) i;`), nil)
	r := p.Get("/stock?select=sku&order=sku").Expect(t, 200)
	var rows []map[string]int
	if err := json.Unmarshal(r.Body, &rows); err != nil || len(rows) != 20000 || rows[19999]["sku"] != 20000 {
		t.Fatalf("large read: %d rows, %v", len(rows), err)
	}
	if cl := r.Header.Get("Content-Length"); cl != strconv.Itoa(len(r.Body)) {
		t.Fatalf("Content-Length %s for %d bytes", cl, len(r.Body))
	}
	csv := p.Get("/stock?select=sku,label&sku=lte.2&order=sku", "Accept: text/csv").Expect(t, 200)
	if string(csv.Body) != "sku,label\n1,\"label 1\"\n2,\"label 2\"" {
		t.Fatalf("csv %q", csv.Body)
	}
	p.Get("/stock?sku=lte.2", "Accept: application/vnd.pgrst.object+json").ExpectError(t, 406, "PGRST116")
	p.Get("/stock?offset=30000", "Prefer: count=exact").ExpectError(t, 416, "PGRST103")
	if h := p.Do("HEAD", "/stock?sku=eq.1", ""); h.Status != 200 || len(h.Body) != 0 {
		t.Fatalf("HEAD: %d, %q", h.Status, h.Body)
	}
	// The next request on the same connections sees a clean state.
	p.Get("/stock?sku=eq.1&select=label").Expect(t, 200).JSONEq(t, `[{"label":"label 1"}]`)
}
