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

func parsePath(s string) ([]pathStep, error) {
	if rest, ok := strings.CutPrefix(s, "$"); ok {
		return parseRFC9535(rest)
	}
	var out []pathStep
	for i := 0; i < len(s); {
		switch s[i] {
		case '.':
			i++
			if i < len(s) && s[i] == '"' {
				j := strings.IndexByte(s[i+1:], '"')
				if j < 0 {
					return nil, errors.New("unterminated quoted key")
				}
				out = append(out, pathStep{key: s[i+1 : i+1+j]})
				i += j + 2
				continue
			}
			j := i
			for j < len(s) && s[j] != '.' && s[j] != '[' {
				j++
			}
			if j == i {
				return nil, errors.New("empty key")
			}
			out = append(out, pathStep{key: s[i:j]})
			i = j
		case '[':
			st, n, err := indexStep(s[i:])
			if err != nil {
				return nil, err
			}
			out = append(out, st)
			i += n
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

// parseRFC9535 reads the JSONPath form ($.a.b, $['a'], $["a"][0]) of
// jwt-role-claim-key, restricted to member and index selectors.
func parseRFC9535(s string) ([]pathStep, error) {
	var out []pathStep
	for i := 0; i < len(s); {
		switch {
		case s[i] == '.':
			j := i + 1
			for j < len(s) && s[j] != '.' && s[j] != '[' {
				j++
			}
			if j == i+1 {
				return nil, errors.New("empty member name")
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
			st, n, err := indexStep(s[i:])
			if err != nil {
				return nil, err
			}
			out = append(out, st)
			i += n
		default:
			return nil, errors.New("expected '.' or '['")
		}
	}
	if len(out) == 0 {
		return nil, errors.New("empty path")
	}
	return out, nil
}

// indexStep reads "[n]" at the start of s and how many bytes it took.
func indexStep(s string) (pathStep, int, error) {
	j := strings.IndexByte(s, ']')
	if j < 0 {
		return pathStep{}, 0, errors.New("unterminated index")
	}
	n, err := strconv.Atoi(s[1:j])
	if err != nil {
		return pathStep{}, 0, errors.New("index must be an integer")
	}
	return pathStep{index: n, isIdx: true}, j + 1, nil
}
