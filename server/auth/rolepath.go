package auth

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// pathStep is one step of jwt-role-claim-key, one of RFC 9535's segments:
// a member name, an array index, a wildcard, a slice, a filter keeping the
// string elements that pass a test, a union of these, or any of them
// applied to every descendant (..).
type pathStep struct {
	key        string
	index      int
	isIdx      bool
	wildcard   bool
	slice      *[3]*int // start, end, step
	filter     func(any) bool
	union      []pathStep
	descendant bool
}

// ParseRoleClaimKey checks jwt-role-claim-key the way PostgREST does at
// startup; the error text is PostgREST's.
func ParseRoleClaimKey(s string) error {
	if _, err := parsePath(s); err != nil {
		return fmt.Errorf("failed to parse role-claim-key value (%s): %v", s, err)
	}
	return nil
}

// parsePath reads jwt-role-claim-key in RFC 9535's form ($.a['b c'][0],
// $.roles[?@ == "x"], $.roles[?search(@, "^x")]) and in the pre-v16 form
// v16.2 still accepts (.a."b c"[0], .roles[?(@ ^== "x")]).
func parsePath(s string) ([]pathStep, error) {
	p := &pathParser{s: strings.TrimPrefix(s, "$")}
	var out []pathStep
	for !p.eof() {
		st, err := p.step()
		if err != nil {
			return nil, fmt.Errorf("at column %d: %w", len(s)-len(p.s[p.i:])+1, err)
		}
		out = append(out, st)
	}
	if len(out) == 0 {
		return nil, errors.New("empty path")
	}
	return out, nil
}

type pathParser struct {
	s string
	i int
}

func (p *pathParser) eof() bool { return p.i >= len(p.s) }

func (p *pathParser) rest() string { return p.s[p.i:] }

func (p *pathParser) step() (pathStep, error) {
	switch {
	case strings.HasPrefix(p.rest(), `."`):
		p.i++
		k, err := p.quoted()
		return pathStep{key: k}, err
	case strings.HasPrefix(p.rest(), ".."):
		p.i++
		if p.i+1 < len(p.s) && p.s[p.i+1] == '[' {
			p.i++
		}
		st, err := p.step()
		st.descendant = true
		return st, err
	case strings.HasPrefix(p.rest(), ".*"):
		p.i += 2
		return pathStep{wildcard: true}, nil
	case p.s[p.i] == '.':
		p.i++
		start := p.i
		for !p.eof() && isNameChar(p.s[p.i]) {
			p.i++
		}
		if p.i == start {
			return pathStep{}, errors.New("expected a member name")
		}
		return pathStep{key: p.s[start:p.i]}, nil
	case p.s[p.i] == '[':
		p.i++
		var sels []pathStep
		for {
			st, err := p.bracket()
			if err != nil {
				return st, err
			}
			sels = append(sels, st)
			p.space()
			if p.eof() || (p.s[p.i] != ']' && p.s[p.i] != ',') {
				return st, errors.New("expected ']'")
			}
			p.i++
			if p.s[p.i-1] == ']' {
				break
			}
		}
		if len(sels) == 1 {
			return sels[0], nil
		}
		return pathStep{union: sels}, nil
	}
	return pathStep{}, fmt.Errorf("unexpected %q", p.s[p.i])
}

// isNameChar: RFC 9535 shorthand names, plus $ and @ the old DSL allowed.
func isNameChar(c byte) bool {
	return c == '_' || c == '$' || c == '@' || c >= 0x80 ||
		(c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

func (p *pathParser) space() {
	for !p.eof() && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// quoted reads a '...' or "..." string with backslash escapes.
func (p *pathParser) quoted() (string, error) {
	if p.eof() || (p.s[p.i] != '"' && p.s[p.i] != '\'') {
		return "", errors.New("expected a quoted string")
	}
	q := p.s[p.i]
	var sb strings.Builder
	for p.i++; !p.eof(); p.i++ {
		c := p.s[p.i]
		switch {
		case c == '\\' && p.i+1 < len(p.s):
			p.i++
			sb.WriteByte(p.s[p.i])
		case c == q:
			p.i++
			return sb.String(), nil
		default:
			sb.WriteByte(c)
		}
	}
	return "", errors.New("unterminated string")
}

func (p *pathParser) bracket() (pathStep, error) {
	p.space()
	if p.eof() {
		return pathStep{}, errors.New("unterminated '['")
	}
	switch p.s[p.i] {
	case '"', '\'':
		k, err := p.quoted()
		return pathStep{key: k}, err
	case '?':
		p.i++
		f, err := p.filter()
		return pathStep{filter: f}, err
	case '*':
		p.i++
		return pathStep{wildcard: true}, nil
	}
	var parts [3]*int
	for k := 0; k < 3; k++ {
		p.space()
		n, ok := p.integer()
		if ok {
			parts[k] = &n
		}
		p.space()
		if p.eof() || p.s[p.i] != ':' || k == 2 {
			if k == 0 {
				if !ok {
					return pathStep{}, errors.New("expected an array index, a slice, a quoted name, * or a filter")
				}
				return pathStep{index: n, isIdx: true}, nil
			}
			return pathStep{slice: &parts}, nil
		}
		p.i++ // ':'
	}
	return pathStep{slice: &parts}, nil
}

// integer reads an optionally negative integer.
func (p *pathParser) integer() (int, bool) {
	start := p.i
	if !p.eof() && p.s[p.i] == '-' {
		p.i++
	}
	for !p.eof() && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	n, err := strconv.Atoi(p.s[start:p.i])
	if err != nil {
		p.i = start
		return 0, false
	}
	return n, true
}

// stringTests are the comparisons a filter may make of the current element
// (@) with a string; ^==, ==^ and *== are the pre-v16 DSL's.
var stringTests = []struct {
	op   string
	test func(el, s string) bool
}{
	{"^==", strings.HasPrefix},
	{"==^", strings.HasSuffix},
	{"*==", strings.Contains},
	{"==", func(el, s string) bool { return el == s }},
	{"!=", func(el, s string) bool { return el != s }},
}

// filter reads `(@ op "s")`, `@ op "s"`, `@.path op "s"`, `@.path` (it
// exists), or `search(@, "re")` / `match(@.path, "re")`, each optionally
// parenthesised.
func (p *pathParser) filter() (func(any) bool, error) {
	p.space()
	paren := !p.eof() && p.s[p.i] == '('
	if paren {
		p.i++
		p.space()
	}
	var f func(any) bool
	var err error
	if r := p.rest(); strings.HasPrefix(r, "search(") || strings.HasPrefix(r, "match(") {
		f, err = p.regexTest()
	} else {
		f, err = p.comparison()
	}
	if err != nil {
		return nil, err
	}
	p.space()
	if paren {
		if p.eof() || p.s[p.i] != ')' {
			return nil, errors.New("expected ')'")
		}
		p.i++
	}
	return f, nil
}

// relative reads @ and the path after it, relative to the element tested.
func (p *pathParser) relative() ([]pathStep, error) {
	if p.eof() || p.s[p.i] != '@' {
		return nil, errors.New("expected '@' in the filter")
	}
	p.i++
	var rel []pathStep
	for !p.eof() && (p.s[p.i] == '.' || p.s[p.i] == '[') {
		st, err := p.step()
		if err != nil {
			return nil, err
		}
		rel = append(rel, st)
	}
	return rel, nil
}

// stringOf is the string the relative path selects in el.
func stringOf(el any, rel []pathStep) (string, bool) { return lookup(el, rel) }

func (p *pathParser) comparison() (func(any) bool, error) {
	rel, err := p.relative()
	if err != nil {
		return nil, err
	}
	p.space()
	for _, t := range stringTests {
		if strings.HasPrefix(p.rest(), t.op) {
			p.i += len(t.op)
			p.space()
			s, err := p.quoted()
			if err != nil {
				return nil, err
			}
			test := t.test
			return func(el any) bool {
				v, ok := stringOf(el, rel)
				return ok && test(v, s)
			}, nil
		}
	}
	if len(rel) > 0 && !p.eof() && (p.s[p.i] == ')' || p.s[p.i] == ']') {
		return func(el any) bool { return len(nodes(el, rel)) > 0 }, nil
	}
	return nil, errors.New("expected one of ==, !=, ^==, ==^, *==")
}

// regexTest reads search(@, "re") (re found anywhere) or match(@, "re")
// (re matches the whole string).
func (p *pathParser) regexTest() (func(any) bool, error) {
	whole := strings.HasPrefix(p.rest(), "match(")
	p.i = strings.IndexByte(p.s[p.i:], '(') + p.i + 1
	p.space()
	rel, err := p.relative()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.eof() || p.s[p.i] != ',' {
		return nil, errors.New("expected ','")
	}
	p.i++
	p.space()
	pat, err := p.quoted()
	if err != nil {
		return nil, err
	}
	if whole {
		pat = `^(?:` + pat + `)$`
	}
	re, err := regexp.Compile(pat)
	if err != nil {
		return nil, fmt.Errorf("invalid regular expression: %v", err)
	}
	p.space()
	if p.eof() || p.s[p.i] != ')' {
		return nil, errors.New("expected ')'")
	}
	p.i++
	return func(el any) bool {
		v, ok := stringOf(el, rel)
		return ok && re.MatchString(v)
	}, nil
}

// lookup evaluates the path as a JSONPath query and returns the first
// selected node, as PostgREST does, when it is a string.
func lookup(v any, path []pathStep) (string, bool) {
	ns := nodes(v, path)
	if len(ns) == 0 {
		return "", false
	}
	s, ok := ns[0].(string)
	return s, ok
}

// nodes is the nodelist the path selects from v.
func nodes(v any, path []pathStep) []any {
	ns := []any{v}
	for _, st := range path {
		var next []any
		for _, n := range ns {
			next = append(next, st.apply(n)...)
		}
		ns = next
	}
	return ns
}

func (st pathStep) apply(v any) []any {
	if st.descendant {
		inner := st
		inner.descendant = false
		var out []any
		for _, n := range descendants(v) {
			out = append(out, inner.apply(n)...)
		}
		return out
	}
	switch {
	case st.union != nil:
		var out []any
		for _, u := range st.union {
			out = append(out, u.apply(v)...)
		}
		return out
	case st.wildcard:
		return children(v)
	case st.filter != nil:
		var out []any
		for _, x := range children(v) {
			if st.filter(x) {
				out = append(out, x)
			}
		}
		return out
	case st.slice != nil:
		if str, ok := v.(string); ok && st.slice[2] == nil {
			return []any{sliceString(str, st.slice[0], st.slice[1])}
		}
		a, _ := v.([]any)
		return slice(a, st.slice)
	case st.isIdx:
		a, ok := v.([]any)
		if !ok {
			return nil
		}
		i := st.index
		if i < 0 {
			i += len(a)
		}
		if i < 0 || i >= len(a) {
			return nil
		}
		return []any{a[i]}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	if x, ok := m[st.key]; ok {
		return []any{x}
	}
	return nil
}

// children are an array's elements or an object's member values (in key
// order, so that the first match does not depend on map iteration).
func children(v any) []any {
	switch c := v.(type) {
	case []any:
		return c
	case map[string]any:
		keys := make([]string, 0, len(c))
		for k := range c {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make([]any, len(keys))
		for i, k := range keys {
			out[i] = c[k]
		}
		return out
	}
	return nil
}

// descendants is v and everything under it, parents first.
func descendants(v any) []any {
	out := []any{v}
	for _, c := range children(v) {
		out = append(out, descendants(c)...)
	}
	return out
}

// slice selects a[start:end:step] with RFC 9535's defaults and negative
// positions counted from the end.
func slice(a []any, parts *[3]*int) []any {
	n := len(a)
	step := 1
	if parts[2] != nil {
		step = *parts[2]
	}
	if step == 0 {
		return nil
	}
	norm := func(i int) int {
		if i < 0 {
			return i + n
		}
		return i
	}
	clamp := func(i, lo, hi int) int { return max(lo, min(i, hi)) }
	var out []any
	if step > 0 {
		lo, hi := 0, n
		if parts[0] != nil {
			lo = clamp(norm(*parts[0]), 0, n)
		}
		if parts[1] != nil {
			hi = clamp(norm(*parts[1]), 0, n)
		}
		for i := lo; i < hi; i += step {
			out = append(out, a[i])
		}
		return out
	}
	hi, lo := n-1, -1
	if parts[0] != nil {
		hi = clamp(norm(*parts[0]), -1, n-1)
	}
	if parts[1] != nil {
		lo = clamp(norm(*parts[1]), -1, n-1)
	}
	for i := hi; i > lo; i += step {
		out = append(out, a[i])
	}
	return out
}

// sliceString is v16's [start:end] on a string claim (e.g. a role with a
// prefix to strip): positions count characters, negative ones from the end,
// both clamped to the string.
func sliceString(s string, start, end *int) string {
	r := []rune(s)
	n := len(r)
	norm := func(p *int, def int) int {
		if p == nil {
			return def
		}
		i := *p
		if i < 0 {
			i += n
		}
		return max(0, min(i, n))
	}
	lo, hi := norm(start, 0), norm(end, n)
	if lo >= hi {
		return ""
	}
	return string(r[lo:hi])
}
