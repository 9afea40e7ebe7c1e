// Package jsonscan checks JSON text by hand, without reflection, for fast
// paths that read the common, well-formed case themselves and leave
// anything unusual to encoding/json. It accepts exactly what
// encoding/json accepts (json.Valid), except that nesting deeper than
// MaxDepth counts as invalid: the caller then falls back to encoding/json,
// which decides.
package jsonscan

// MaxDepth bounds the recursion; real bodies nest a few levels.
const MaxDepth = 200

// Valid reports whether b is one JSON value, with optional white space
// around it.
func Valid(b []byte) bool {
	end, ok := Value(b, Space(b, 0))
	return ok && Space(b, end) == len(b)
}

// Space is the index of the first byte at or after i that is not JSON
// white space.
func Space(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// Value checks the value starting at b[i] and returns the index past it.
func Value(b []byte, i int) (int, bool) { return value(b, i, 0) }

func value(b []byte, i, depth int) (int, bool) {
	if i >= len(b) {
		return i, false
	}
	switch b[i] {
	case '"':
		return String(b, i)
	case '{', '[':
		if depth >= MaxDepth {
			return i, false
		}
		return container(b, i, depth+1)
	case 't':
		return literal(b, i, "true")
	case 'f':
		return literal(b, i, "false")
	case 'n':
		return literal(b, i, "null")
	}
	return number(b, i)
}

// container checks an object or an array: members are "key": value in an
// object, values in an array, separated by commas.
func container(b []byte, i, depth int) (int, bool) {
	closer, object := byte(']'), b[i] == '{'
	if object {
		closer = '}'
	}
	i = Space(b, i+1)
	if i < len(b) && b[i] == closer {
		return i + 1, true
	}
	for {
		var ok bool
		if object {
			if i >= len(b) || b[i] != '"' {
				return i, false
			}
			if i, ok = String(b, i); !ok {
				return i, false
			}
			if i = Space(b, i); i >= len(b) || b[i] != ':' {
				return i, false
			}
			i = Space(b, i+1)
		}
		if i, ok = value(b, i, depth); !ok {
			return i, false
		}
		switch i = Space(b, i); {
		case i >= len(b):
			return i, false
		case b[i] == ',':
			i = Space(b, i+1)
		case b[i] == closer:
			return i + 1, true
		default:
			return i, false
		}
	}
}

// String checks the string starting at b[i] (a '"') and returns the index
// past its closing quote. Bytes that are not UTF-8 are valid, as for
// encoding/json (it decodes them as U+FFFD).
func String(b []byte, i int) (int, bool) {
	end, _, ok := StringASCII(b, i)
	return end, ok
}

// StringASCII is String, and also reports whether the string is plain:
// printable ASCII without escapes, so that what it holds is its value.
func StringASCII(b []byte, i int) (end int, plain, ok bool) {
	var high byte // the bytes' bits or-ed: a non-ASCII byte sets 0x80
	plain = true
	for i++; i < len(b); i++ {
		for i < len(b) && safe[b[i]] {
			high |= b[i]
			i++ // the common byte, without the switch
		}
		if i == len(b) {
			break
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, plain && high < 0x80, true
		case c < 0x20:
			return i, false, false
		case c == '\\':
			plain = false
			if i++; i >= len(b) {
				return i, false, false
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) || !hex(b[i+1]) || !hex(b[i+2]) || !hex(b[i+3]) || !hex(b[i+4]) {
					return i, false, false
				}
				i += 4
			default:
				return i, false, false
			}
		}
	}
	return i, false, false
}

// safe are the bytes a string holds as they are: not a quote, a
// backslash or a control character.
var safe = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func hex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func literal(b []byte, i int, lit string) (int, bool) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, false
	}
	return i + len(lit), true
}

// number checks -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func number(b []byte, i int) (int, bool) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = digits(b, i)
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		if j := digits(b, i+1); j > i+1 {
			i = j
		} else {
			return j, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return j, false
		}
		i = j
	}
	return i, true
}

func digits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}
