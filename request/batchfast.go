package request

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/pgrest/pgrest/jsonscan"
)

// Every batch is read before it runs, and encoding/json's reflection was
// most of that cost. fastOps reads the common case by hand: an array of
// operation objects whose keys are the four fields in plain ASCII, with
// the value types the fields take. It gives up (nil) on anything it
// cannot be sure to read exactly as encoding/json would (escaped,
// non-ASCII or unknown keys, wrong types, header names that collide,
// nesting beyond jsonscan.MaxDepth, invalid JSON), and decodeOps then
// reads the batch as before, errors and all.

// header is one header of an operation, in the order written.
type header struct{ name, value string }

type opReader struct {
	b    []byte
	text string // b as a string: every string read is a part of it, one copy for all
	hs   []header
	// bodies is b copied once for the operations' bodies: they outlive
	// the caller's buffer, as encoding/json's copies did.
	bodies []byte
}

func fastOps(body []byte, maxOps int) []wireOp {
	r := opReader{b: body, text: string(body)}
	i := jsonscan.Space(body, 0)
	if i >= len(body) || body[i] != '[' {
		return nil
	}
	// Room for the operations, guessed from the size: few are shorter.
	ops := make([]wireOp, 0, min(len(body)/48+1, 64))
	for i = jsonscan.Space(body, i+1); ; {
		if i >= len(body) || body[i] != '{' || (maxOps > 0 && len(ops) == maxOps) {
			return nil
		}
		ops = append(ops, wireOp{})
		var ok bool
		if i, ok = r.op(i, &ops[len(ops)-1]); !ok {
			return nil
		}
		if i = jsonscan.Space(body, i); i < len(body) && body[i] == ',' {
			i = jsonscan.Space(body, i+1)
			continue
		}
		if i >= len(body) || body[i] != ']' || jsonscan.Space(body, i+1) != len(body) {
			return nil
		}
		return ops
	}
}

// op reads the operation object at b[i]. encoding/json matches field
// names without regard to case and keeps the last of repeated fields.
func (r *opReader) op(i int, w *wireOp) (int, bool) {
	b, first := r.b, len(r.hs)
	i, ok := members(b, i, func(k0, k1 int, _ bool, i int) (int, bool) {
		switch key := b[k0+1 : k1-1]; {
		case foldEq(key, "method"):
			return r.str(i, &w.Method)
		case foldEq(key, "path"):
			return r.str(i, &w.Path)
		case foldEq(key, "headers"):
			return r.headers(i, first)
		case foldEq(key, "body"):
			end, valid := jsonscan.Value(b, i)
			if valid {
				if r.bodies == nil {
					r.bodies = bytes.Clone(b)
				}
				w.Body = r.bodies[i:end:end]
			}
			return end, valid
		}
		return i, false
	})
	if !ok {
		return i, false
	}
	w.pairs = r.hs[first:len(r.hs):len(r.hs)]
	return i, !ambiguous(w.pairs)
}

// members calls fn with each key of the object at b[i]: the key quoted at
// b[k0:k1] (plain as jsonscan.StringASCII says) and the index of its
// value; fn returns the index past the value. The result is the index past
// the object, and whether it was well-formed.
func members(b []byte, i int, fn func(k0, k1 int, plain bool, i int) (int, bool)) (int, bool) {
	if i = jsonscan.Space(b, i+1); i < len(b) && b[i] == '}' {
		return i + 1, true
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return i, false
		}
		k0 := i
		k1, plain, ok := jsonscan.StringASCII(b, i)
		if !ok {
			return i, false
		}
		if i = jsonscan.Space(b, k1); i >= len(b) || b[i] != ':' {
			return i, false
		}
		if i, ok = fn(k0, k1, plain, jsonscan.Space(b, i+1)); !ok {
			return i, false
		}
		switch i = jsonscan.Space(b, i); {
		case i < len(b) && b[i] == ',':
			i = jsonscan.Space(b, i+1)
		case i < len(b) && b[i] == '}':
			return i + 1, true
		default:
			return i, false
		}
	}
}

// foldEq: key is name (lower-case letters) in any ASCII case. A key with
// an escape or a non-ASCII byte never matches, as encoding/json might
// still match it (it unescapes, and folds some non-ASCII letters).
func foldEq(key []byte, name string) bool {
	if len(key) != len(name) {
		return false
	}
	for j := range key {
		if key[j]|0x20 != name[j] {
			return false
		}
	}
	return true
}

// str reads a string field; null leaves it as it was, as encoding/json does.
func (r *opReader) str(i int, dst *string) (int, bool) {
	if isNull(r.b, i) {
		return i + 4, true
	}
	if i >= len(r.b) || r.b[i] != '"' {
		return i, false
	}
	end, plain, ok := jsonscan.StringASCII(r.b, i)
	if ok {
		*dst = r.unquote(i, end, plain)
	}
	return end, ok
}

// unquote is the valid JSON string b[i:end], decoded.
func (r *opReader) unquote(i, end int, plain bool) string {
	raw := r.b[i+1 : end-1]
	if plain {
		return r.text[i+1 : end-1]
	}
	if !utf8.Valid(raw) {
		var s string
		_ = json.Unmarshal(r.b[i:end], &s) // bad UTF-8 as encoding/json reads it
		return s
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		return r.text[i+1 : end-1]
	}
	return unescape(raw)
}

// unescape decodes the escapes of a valid JSON string's contents. Go's
// json.Marshal writes & < > as \u0026 \u003c \u003e, so clients send
// escapes in paths often. Surrogates (UTF-16 pairs, or lone ones that
// encoding/json reads as U+FFFD) are left to encoding/json.
func unescape(raw []byte) string {
	var out strings.Builder // one allocation: String does not copy
	out.Grow(len(raw))
	for rest := raw; ; {
		j := bytes.IndexByte(rest, '\\')
		if j < 0 {
			out.Write(rest)
			return out.String()
		}
		out.Write(rest[:j])
		c := rest[j+1]
		rest = rest[j+2:]
		switch c {
		case 'b':
			c = '\b'
		case 'f':
			c = '\f'
		case 'n':
			c = '\n'
		case 'r':
			c = '\r'
		case 't':
			c = '\t'
		case 'u':
			n := hex4(rest)
			if utf16.IsSurrogate(n) {
				var s string
				_ = json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &s)
				return s
			}
			out.WriteRune(n)
			rest = rest[4:]
			continue
		}
		out.WriteByte(c) // " \ / stand for themselves
	}
}

// hex4 reads the four hex digits of a \u escape (checked valid).
func hex4(b []byte) rune {
	var n rune
	for _, c := range b[:4] {
		n <<= 4
		switch {
		case c <= '9':
			n |= rune(c - '0')
		case c <= 'F':
			n |= rune(c - 'A' + 10)
		default:
			n |= rune(c - 'a' + 10)
		}
	}
	return n
}

func isNull(b []byte, i int) bool {
	return len(b)-i >= 4 && string(b[i:i+4]) == "null"
}

// headers reads a headers object into r.hs[first:]. As for a map: null
// empties it, a repeated "headers" adds to it, a repeated name keeps its
// last value, and a null value is "".
func (r *opReader) headers(i, first int) (int, bool) {
	if isNull(r.b, i) {
		r.hs = r.hs[:first]
		return i + 4, true
	}
	if i >= len(r.b) || r.b[i] != '{' {
		return i, false
	}
	return members(r.b, i, func(k0, k1 int, plain bool, i int) (int, bool) {
		var v string
		end, ok := r.str(i, &v)
		if !ok {
			return end, false
		}
		name := r.unquote(k0, k1, plain)
		for j := first; j < len(r.hs); j++ {
			if r.hs[j].name == name {
				r.hs[j].value = v
				return end, true
			}
		}
		r.hs = append(r.hs, header{name, v})
		return end, true
	})
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
