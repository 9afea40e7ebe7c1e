package auth

import (
	"errors"
	"strconv"
	"strings"
)

// pathStep is one step of jwt-role-claim-key: .key, ."quoted key" or [n].
type pathStep struct {
	key   string
	index int
	isIdx bool
}

// parsePath reads jwt-role-claim-key in PostgREST's form (.a."b c"[0])
// or RFC 9535's ($.a['b c'][0]); both take member and index selectors.
func parsePath(s string) ([]pathStep, error) {
	s = strings.TrimPrefix(s, "$")
	var out []pathStep
	for i := 0; i < len(s); {
		switch {
		case s[i] == '.' && i+1 < len(s) && s[i+1] == '"':
			j := strings.IndexByte(s[i+2:], '"')
			if j < 0 {
				return nil, errors.New("unterminated quoted key")
			}
			out = append(out, pathStep{key: s[i+2 : i+2+j]})
			i += j + 3
		case s[i] == '.':
			j := i + 1
			for j < len(s) && s[j] != '.' && s[j] != '[' {
				j++
			}
			if j == i+1 {
				return nil, errors.New("empty key")
			}
			out = append(out, pathStep{key: s[i+1 : j]})
			i = j
		case strings.HasPrefix(s[i:], "['") || strings.HasPrefix(s[i:], `["`):
			q := s[i+1]
			j := strings.IndexByte(s[i+2:], q)
			if j < 0 || i+2+j+1 >= len(s) || s[i+2+j+1] != ']' {
				return nil, errors.New("unterminated bracketed name")
			}
			out = append(out, pathStep{key: s[i+2 : i+2+j]})
			i += j + 4
		case s[i] == '[':
			j := strings.IndexByte(s[i:], ']')
			if j < 0 {
				return nil, errors.New("unterminated index")
			}
			n, err := strconv.Atoi(s[i+1 : i+j])
			if err != nil {
				return nil, errors.New("index must be an integer")
			}
			out = append(out, pathStep{index: n, isIdx: true})
			i += j + 1
		default:
			return nil, errors.New("expected '.' or '['")
		}
	}
	if len(out) == 0 {
		return nil, errors.New("empty path")
	}
	return out, nil
}

func lookup(v any, path []pathStep) (string, bool) {
	for _, st := range path {
		if st.isIdx {
			a, ok := v.([]any)
			if !ok {
				return "", false
			}
			i := st.index
			if i < 0 {
				i += len(a)
			}
			if i < 0 || i >= len(a) {
				return "", false
			}
			v = a[i]
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			return "", false
		}
		v, ok = m[st.key]
		if !ok {
			return "", false
		}
	}
	s, ok := v.(string)
	return s, ok
}
