package request

import (
	"strconv"
	"strings"
)

// syntaxError is a parse failure at a byte offset of the parsed text,
// worded like PostgREST's parser: unexpected X expecting Y.
type syntaxError struct {
	pos        int
	unexpected string
	expecting  string
}

func (e *syntaxError) details() string {
	return "unexpected " + e.unexpected + " expecting " + e.expecting
}

// at shifts the error by the offset of the parsed text in a larger one.
func (e *syntaxError) at(off int) *syntaxError {
	e.pos += off
	return e
}

// column is the 1-based position PostgREST reports, counted in characters.
func (e *syntaxError) column(text string) string {
	if e.pos > len(text) {
		e.pos = len(text)
	}
	return strconv.Itoa(len([]rune(text[:e.pos])) + 1)
}

// unexpectedAt names what stands at s[i] the way parsec does.
func unexpectedAt(s string, i int) string {
	if i >= len(s) {
		return "end of input"
	}
	r := []rune(s[i:])[0]
	return strconv.Quote(string(r))
}

const jsonKeyExpecting = `"-", digit or any non reserved character different from: .,>()`

// parseField reads a column and its JSON path: name->key->>0. Names and
// keys may be double-quoted to hold reserved characters; unquoted keys
// take any character but .,:>() and dashes that start an arrow.
func parseField(s string) (Field, *syntaxError) {
	var f Field
	i := skipBlanks(s, 0)
	end := len(strings.TrimRight(s, " \t"))
	if i < len(s) && s[i] == '"' {
		name, j, err := quotedAt(s, i)
		if err != nil {
			return f, err
		}
		f.Name, i = name, j
	} else {
		j := i
		for j < end && !strings.HasPrefix(s[j:], "->") {
			j++
		}
		f.Name = strings.TrimSpace(s[i:j])
		if f.Name == "" || strings.ContainsAny(f.Name, `(),"`) {
			at := i + strings.IndexAny(s[i:], `(),"`)
			if f.Name == "" || at < i {
				at = i
			}
			return f, &syntaxError{pos: at, unexpected: unexpectedAt(s, at), expecting: "field name (* or [a..z0..9_$])"}
		}
		i = j
	}
	for i < end {
		if !strings.HasPrefix(s[i:], "->") {
			return f, &syntaxError{pos: i, unexpected: unexpectedAt(s, i), expecting: `"->>", "->", "::", ".", ")", "," or end of input`}
		}
		op := JSONOp{Text: strings.HasPrefix(s[i:], "->>")}
		i += 2
		if op.Text {
			i++
		}
		key, j, err := jsonOperand(s[:end], i)
		if err != nil {
			return f, err
		}
		op.Key, i = key, j
		f.Path = append(f.Path, op)
	}
	return f, nil
}

// jsonOperand reads the key or index after an arrow at s[i:].
func jsonOperand(s string, i int) (string, int, *syntaxError) {
	if i < len(s) && s[i] == '"' {
		return quotedAt(s, i)
	}
	if j := indexEnd(s, i); j > i {
		return s[i:j], j, nil
	}
	var parts []string
	for {
		j := i
		for j < len(s) && !strings.ContainsRune("(-:.,>)", rune(s[j])) {
			j++
		}
		if j == i {
			return "", i, &syntaxError{pos: i, unexpected: unexpectedAt(s, i), expecting: jsonKeyExpecting}
		}
		parts = append(parts, strings.TrimSpace(s[i:j]))
		// A dash joins two parts of a key unless it starts an arrow.
		if j < len(s) && s[j] == '-' && !strings.HasPrefix(s[j:], "->") {
			i = j + 1
			continue
		}
		return strings.Join(parts, "-"), j, nil
	}
}

// indexEnd returns the end of an array index (-?digits) at s[i:] when one
// stands there, followed by an arrow or the end; i otherwise.
func indexEnd(s string, i int) int {
	j := i
	if j < len(s) && s[j] == '-' {
		j++
	}
	k := j
	for k < len(s) && s[k] >= '0' && s[k] <= '9' {
		k++
	}
	if k == j || (k < len(s) && !strings.HasPrefix(s[k:], "->")) {
		return i
	}
	return k
}

// quotedAt reads the double-quoted value at s[i], with backslash escapes.
func quotedAt(s string, i int) (string, int, *syntaxError) {
	var sb strings.Builder
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			if j+1 < len(s) {
				j++
				sb.WriteByte(s[j])
			}
		case '"':
			return sb.String(), j + 1, nil
		default:
			sb.WriteByte(s[j])
		}
	}
	return "", len(s), &syntaxError{pos: len(s), unexpected: "end of input", expecting: `"\""`}
}

func skipBlanks(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

// indexUnquoted is strings.Index outside double-quoted names.
func indexUnquoted(s, sub string) int {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch {
		case quoted && s[i] == '\\':
			i++
		case s[i] == '"':
			quoted = !quoted
		case !quoted && strings.HasPrefix(s[i:], sub):
			return i
		}
	}
	return -1
}
