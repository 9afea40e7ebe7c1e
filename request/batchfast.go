package request

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// Every batch is read before it runs, and encoding/json's reflection was
// most of that cost. fastOps reads the common case with gjson: an array of
// operation objects whose keys are the four fields in plain ASCII, with
// the value types the fields take. It gives up (nil) on anything it
// cannot be sure to read exactly as encoding/json would (escaped,
// non-ASCII or unknown keys, wrong types, header names that collide,
// anything ValidJSON does not vouch for), and decodeOps then reads the
// batch as before, errors and all.

// maxNesting is encoding/json's nesting limit (its scanner's
// maxNestingDepth): deeper documents are invalid to it.
const maxNesting = 10000

// FastJSONMax bounds the documents read with gjson: it reads a string, so a
// []byte is copied first. Small documents are where json.Decoder's fixed
// costs weigh; a large one goes to encoding/json, which needs no copy.
const FastJSONMax = 64 << 10

// ValidJSON is json.Valid, answered by gjson, or false when gjson's
// answer could differ: gjson's checker has no nesting limit (and
// recurses), so a document with more brackets than encoding/json allows
// levels is not checked. Otherwise the two accept the same texts (the
// fuzzers hold them to it), bad UTF-8 included. A caller that gets false
// leaves the document to encoding/json, which decides.
func ValidJSON(b []byte) bool {
	return bytes.Count(b, []byte{'['})+bytes.Count(b, []byte{'{'}) <= maxNesting && gjson.ValidBytes(b)
}

// header is one header of an operation, in the order written.
type header struct{ name, value string }

type opReader struct {
	b     []byte
	exact bool // every string in b is one gjson reads as encoding/json does
	hs    []header
	// bodies is b copied once for the operations' bodies: they outlive
	// the caller's buffer, as encoding/json's copies did.
	bodies []byte
}

func fastOps(body []byte, maxOps int) []wireOp {
	if !ValidJSON(body) {
		return nil
	}
	// One copy, of which every string read is a part.
	root := gjson.Parse(string(body))
	if !root.IsArray() {
		return nil
	}
	r := opReader{b: body, exact: exact(body)}
	// Room for the operations, guessed from the size: few are shorter.
	ops := make([]wireOp, 0, min(len(body)/48+1, 64))
	ok := true
	root.ForEach(func(_, v gjson.Result) bool {
		if ok = v.IsObject() && (maxOps <= 0 || len(ops) < maxOps); ok {
			ops = append(ops, wireOp{})
			ok = r.op(v, &ops[len(ops)-1])
		}
		return ok
	})
	if !ok || len(ops) == 0 {
		return nil
	}
	return ops
}

// op reads the operation object o. encoding/json matches field names
// without regard to case and keeps the last of repeated fields.
func (r *opReader) op(o gjson.Result, w *wireOp) bool {
	first, ok := len(r.hs), true
	o.ForEach(func(k, v gjson.Result) bool {
		switch key := k.Raw[1 : len(k.Raw)-1]; {
		case foldEq(key, "method"):
			ok = r.str(v, &w.Method)
		case foldEq(key, "path"):
			ok = r.str(v, &w.Path)
		case foldEq(key, "headers"):
			ok = r.headers(v, first)
		case foldEq(key, "body"):
			if r.bodies == nil {
				r.bodies = bytes.Clone(r.b)
			}
			end := v.Index + len(v.Raw)
			w.Body = r.bodies[v.Index:end:end]
		default:
			ok = false
		}
		return ok
	})
	if !ok {
		return false
	}
	w.pairs = r.hs[first:len(r.hs):len(r.hs)]
	return !ambiguous(w.pairs)
}

// foldEq: key, as written between its quotes, is name (lower-case
// letters) in any ASCII case. A key with an escape or a non-ASCII byte
// never matches, as encoding/json might still match it (it unescapes, and
// folds some non-ASCII letters).
func foldEq(key, name string) bool {
	if len(key) != len(name) {
		return false
	}
	for j := range len(key) {
		if key[j]|0x20 != name[j] {
			return false
		}
	}
	return true
}

// str reads a string field; null leaves it as it was, as encoding/json does.
func (r *opReader) str(v gjson.Result, dst *string) bool {
	switch v.Type {
	case gjson.Null:
		return true
	case gjson.String:
		*dst = r.decoded(v)
		return true
	}
	return false
}

// decoded is the string v (a value or a key) as encoding/json decodes it.
// gjson unescapes as encoding/json does where the text is UTF-8 and has
// no surrogate escape; encoding/json turns bad bytes and lone surrogates
// into U+FFFD, and decides those itself. Go's json.Marshal writes & < >
// as \u0026 \u003c \u003e, so escapes in paths are common and worth
// gjson's speed.
func (r *opReader) decoded(v gjson.Result) string {
	if r.exact || exact(v.Raw) {
		return v.Str
	}
	var s string
	_ = json.Unmarshal([]byte(v.Raw), &s)
	return s
}

// exact: gjson reads the strings of text as encoding/json does.
func exact[T string | []byte](text T) bool {
	return utf8.Valid([]byte(text)) && !bytes.Contains([]byte(text), []byte(`\ud`)) && !bytes.Contains([]byte(text), []byte(`\uD`))
}

// headers reads a headers object into r.hs[first:]. As for a map: null
// empties it, a repeated "headers" adds to it, a repeated name keeps its
// last value, and a null value is "".
func (r *opReader) headers(v gjson.Result, first int) bool {
	if v.Type == gjson.Null {
		r.hs = r.hs[:first]
		return true
	}
	if !v.IsObject() {
		return false
	}
	ok := true
	v.ForEach(func(k, hv gjson.Result) bool {
		var value string
		if ok = r.str(hv, &value); ok {
			r.setPair(first, r.decoded(k), value)
		}
		return ok
	})
	return ok
}

func (r *opReader) setPair(first int, name, value string) {
	for j := first; j < len(r.hs); j++ {
		if r.hs[j].name == name {
			r.hs[j].value = value
			return
		}
	}
	r.hs = append(r.hs, header{name, value})
}

// ambiguous: the headers are ones whose outcome depends on the order a map
// is walked in (two names one header once canonical, or more than one
// name refused: which is reported), so encoding/json's map must decide.
func ambiguous(hs []header) bool {
	refused := 0
	for j, h := range hs {
		if !batchHeaders[http.CanonicalHeaderKey(h.name)] {
			refused++
		}
		for _, o := range hs[:j] {
			if strings.EqualFold(o.name, h.name) {
				return true
			}
		}
	}
	return refused > 1
}
