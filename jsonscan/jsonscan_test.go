package jsonscan

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzValid: the hand checker agrees with encoding/json on every input
// within MaxDepth.
func FuzzValid(f *testing.F) {
	for _, s := range []string{
		``, ` `, `0`, `-0`, `01`, `1.`, `1.5e+3`, `1E-0`, `-`, `.5`, `1e`, `tru`, `true `, `nul`, `null`,
		`"a\u00e9\n\"\\\/"`, `"\x"`, `"\u12G4"`, "\"\x01\"", "\"\xff\xfe\"", `"`,
		`{}`, `{"a":1,"b":[1,2,{"c":null}]}`, `{"a":1,}`, `{"a" 1}`, `{1:2}`, `[1,]`, `[,1]`, `[1 2]`,
		`[] []`, `{"a":1}}`, ` [ { } , [ ] ] `, "\t\r\n{}\n", strings.Repeat("[", 300) + strings.Repeat("]", 300),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, want := Valid(b), json.Valid(b)
		if deep := want && tooDeep(b); got != want && !deep {
			t.Fatalf("Valid(%q) = %v, encoding/json says %v", b, got, want)
		}
		// A plain string is its contents, as encoding/json decodes it.
		if end, plain, ok := StringASCII(b, 0); len(b) > 0 && b[0] == '"' && ok && plain {
			var v string
			if err := json.Unmarshal(b[:end], &v); err != nil || v != string(b[1:end-1]) {
				t.Fatalf("%q is not plain: %q %v", b[:end], v, err)
			}
		}
	})
}

// tooDeep reports whether b nests beyond MaxDepth (strings aside).
func tooDeep(b []byte) bool {
	depth, in := 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case in && c == '\\':
			i++
		case c == '"':
			in = !in
		case in:
		case c == '{' || c == '[':
			if depth++; depth > MaxDepth {
				return true
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return false
}
