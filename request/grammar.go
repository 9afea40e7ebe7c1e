package request

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/pgrest/pgrest/apierr"
)

// parseQuery walks the query string in order (url.ParseQuery would lose it).
func parseQuery(req *Request, raw string) *apierr.Error {
	if raw == "" {
		return nil
	}
	pairs := make([][2]string, 0, 1+strings.Count(raw, "&"))
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		key, err1 := url.QueryUnescape(k)
		val, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			return apierr.ParseError("Invalid percent-encoding in the query string", part)
		}
		pairs = append(pairs, [2]string{key, val})
		if err := parseParam(req, key, val); err != nil {
			return err
		}
	}
	req.params = pairs
	return nil
}

// CanonicalQuery is the query string as PostgREST writes it in
// Content-Location. It is built on demand: only read responses carry it.
func (r *Request) CanonicalQuery() string { return canonicalQuery(r.params) }

// canonicalQuery writes the parameters as PostgREST's Content-Location
// does: sorted by name (stably), the values of a repeated name joined by
// commas, everything but letters, digits and -_.~ percent-encoded.
func canonicalQuery(pairs [][2]string) string {
	if len(pairs) == 0 {
		return ""
	}
	sorted := make([][2]string, len(pairs))
	copy(sorted, pairs) // the request keeps the order it was written in
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i][0] < sorted[j][0] })
	var b strings.Builder
	size := 0
	for _, p := range sorted {
		size += len(p[0]) + len(p[1]) + 2
	}
	b.Grow(size + size/4)
	for i, p := range sorted {
		switch {
		case i == 0:
		case p[0] == sorted[i-1][0]: // stable sort: repeats follow each other
			b.WriteByte(',')
			encodeQueryPart(&b, p[1])
			continue
		default:
			b.WriteByte('&')
		}
		encodeQueryPart(&b, p[0])
		b.WriteByte('=')
		encodeQueryPart(&b, p[1])
	}
	return b.String()
}

func encodeQueryPart(b *strings.Builder, s string) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.~", c) >= 0 {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
}

func parseParam(req *Request, key, val string) *apierr.Error {
	// Embed-scoped parameters are written "rel.sub.key".
	segs := splitTop(key, '.')
	last := segs[len(segs)-1]
	path := segs[:len(segs)-1]
	if len(path) == 0 {
		path = nil
	}
	if (last == "or" || last == "and") && len(path) > 0 && path[len(path)-1] == "not" {
		return addLogic(req, nilIfEmpty(path[:len(path)-1]), last == "or", true, val)
	}
	switch {
	case key == "select":
		if err := checkJSONKeys(val); err != nil {
			return err
		}
		items, err := parseSelect(val)
		if err != nil {
			return err
		}
		req.Select = items
		return nil
	case key == "columns":
		cols, err := columnList("columns", val)
		req.Columns = cols
		return err
	case key == "on_conflict":
		cols, err := columnList("on_conflict", val)
		req.OnConflict = cols
		return err
	case last == "order":
		terms, err := parseOrder(val)
		if err != nil {
			return err
		}
		req.Orders = append(req.Orders, Order{Path: path, Terms: terms})
		return nil
	case last == "limit" || last == "offset":
		// Like PostgREST: a value that is not an integer is ignored, a
		// negative offset reads from the start, a negative limit is 416.
		n, err := strconv.ParseInt(val, 10, 64)
		if err != nil {
			return nil
		}
		rg := pathRange(req, path)
		switch {
		case last == "offset":
			rg.Offset = max(n, 0)
		case n < 0:
			return apierr.InvalidRange("Limit should be greater than or equal to zero.")
		default:
			rg.Limit = &n
		}
		return nil
	case last == "or" || last == "and":
		return addLogic(req, path, last == "or", false, val)
	}
	// A filter. JSON paths use arrows, so every dot in the key separates embeds.
	// On a GET call, a value without an operator is an argument of the
	// function; everything else is a filter on its result (as on POST).
	if req.Action == ActInvoke && (req.Method == http.MethodGet || req.Method == http.MethodHead) {
		f, err := parseFilter(path, last, val)
		if err != nil {
			req.addRPCArg(key, val)
			return nil
		}
		f.Key = key
		req.Filters = append(req.Filters, f)
		return nil
	}
	f, err := parseFilter(path, last, val)
	if err != nil {
		return err
	}
	req.Filters = append(req.Filters, f)
	return nil
}

func nilIfEmpty(p []string) []string {
	if len(p) == 0 {
		return nil
	}
	return p
}

func (req *Request) addRPCArg(k, v string) {
	if req.RPCArgs == nil {
		req.RPCArgs = map[string][]string{}
	}
	req.RPCArgs[k] = append(req.RPCArgs[k], v)
}

// columnList reads columns= and on_conflict=: names separated by commas,
// none of them empty (PostgREST's parser refuses "" and "a,,b").
func columnList(param, v string) ([]string, *apierr.Error) {
	off := 0
	for _, raw := range splitTop(v, ',') {
		if strings.TrimSpace(raw) == "" {
			at := off + len(raw)
			unexpected := unexpectedAt(v, at)
			return nil, apierr.ParseError("\"failed to parse "+param+" parameter ("+v+")\" (line 1, column "+strconv.Itoa(len([]rune(v[:at]))+1)+")",
				"unexpected "+unexpected+" expecting field name (* or [a..z0..9_$])")
		}
		off += len(raw) + 1
	}
	return splitList(v), nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, strings.Trim(s, `"`))
		}
	}
	return out
}

func addLogic(req *Request, path []string, or, negated bool, val string) *apierr.Error {
	if !strings.HasPrefix(val, "(") || !strings.HasSuffix(val, ")") {
		return apierr.ParseError("\"failed to parse logic tree ("+val+")\"", "expecting \"(\"")
	}
	if strings.TrimSpace(val[1:len(val)-1]) == "" {
		return emptyLogic(val, or)
	}
	t, err := parseLogicBody(val[1 : len(val)-1])
	if err != nil {
		return err
	}
	t.Path, t.Or, t.Negated = path, or, negated
	req.Logic = append(req.Logic, *t)
	return nil
}

// parseLogicBody parses the comma-separated members of or=(...)/and=(...).
func parseLogicBody(s string) (*Logic, *apierr.Error) {
	t := &Logic{}
	for _, m := range splitTop(s, ',') {
		m = strings.TrimSpace(m)
		neg := false
		inner := m
		if strings.HasPrefix(inner, "not.") {
			neg, inner = true, inner[4:]
		}
		if op, body, ok := nestedLogic(inner); ok {
			isOr := op == "or"
			if strings.TrimSpace(body) == "" {
				return nil, emptyLogic("("+s+")", isOr)
			}
			sub, err := parseLogicBody(body)
			if err != nil {
				return nil, err
			}
			sub.Or, sub.Negated = isOr, neg
			t.Children = append(t.Children, LogicNode{Tree: sub})
			continue
		}
		dot := indexOutside(m, ".")
		ok := dot >= 0
		field, rest := m, ""
		if ok {
			field, rest = m[:dot], m[dot+1:]
		}
		if !ok {
			return nil, apierr.ParseError("\"failed to parse logic tree ("+s+")\"", "unexpected \""+m+"\" expecting field.operator.value")
		}
		f, err := parseFilter(nil, field, unquoteLogicValue(rest))
		if err != nil {
			return nil, err
		}
		t.Children = append(t.Children, LogicNode{Filter: &f})
	}
	if len(t.Children) == 0 {
		return nil, apierr.ParseError("\"failed to parse logic tree ()\"", "empty logic tree")
	}
	return t, nil
}

// nestedLogic recognises and(...) / or(...), blanks allowed before "(".
func nestedLogic(m string) (op, body string, ok bool) {
	for _, op := range []string{"and", "or"} {
		if rest, found := strings.CutPrefix(m, op); found {
			rest = strings.TrimLeft(rest, " \t")
			if strings.HasPrefix(rest, "(") && strings.HasSuffix(rest, ")") {
				return op, rest[1 : len(rest)-1], true
			}
		}
	}
	return "", "", false
}

// emptyLogic is PostgREST's error for and()/or() without conditions: its
// parser reads the operator and the value as one text.
func emptyLogic(val string, or bool) *apierr.Error {
	op := "and"
	if or {
		op = "or"
	}
	col := strconv.Itoa(len(op) + strings.LastIndexByte(val, ')') + 1)
	return apierr.ParseError("\"failed to parse logic tree ("+val+")\" (line 1, column "+col+")",
		"unexpected \")\" expecting field name (* or [a..z0..9_$]), negation operator (not) or logic operator (and, or)")
}

// unquoteLogicValue removes the double quotes that protect reserved
// characters of a value inside a logic tree: a.eq."x,y".
func unquoteLogicValue(s string) string {
	i := strings.LastIndexByte(s, '.')
	if i >= 0 && strings.HasSuffix(s, `"`) && i+1 < len(s) && s[i+1] == '"' && len(s)-i >= 3 {
		return s[:i+1] + unescapeQuoted(s[i+2:len(s)-1])
	}
	return s
}

func unescapeQuoted(s string) string {
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		sb.WriteByte(s[i])
	}
	return sb.String()
}

// splitTop splits on sep outside parentheses, braces and double quotes.
func splitTop(s string, sep byte) []string {
	// One allocation, sized by the separators (nested ones included).
	out := make([]string, 0, strings.Count(s, string(sep))+1)
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '(' || c == '{' || c == '[':
			depth++
		case c == ')' || c == '}' || c == ']':
			depth--
		case c == sep && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// parseField reads col->a->>b.
func parseField(s string) (Field, *apierr.Error) {
	s = strings.TrimSpace(s)
	var f Field
	if strings.Count(s, `"`)%2 == 1 { // a quoted name or key left open
		return f, apierr.ParseError("\"failed to parse field ("+s+")\"", "unexpected end of input expecting \"\\\"\"")
	}
	i := indexOutside(s, "->")
	if i < 0 {
		f.Name = strings.Trim(s, `"`)
	} else {
		f.Name = strings.Trim(s[:i], `"`)
		rest := s[i:]
		for rest != "" {
			text := strings.HasPrefix(rest, "->>")
			if text {
				rest = rest[3:]
			} else if strings.HasPrefix(rest, "->") {
				rest = rest[2:]
			} else {
				return f, apierr.ParseError("\"failed to parse field ("+s+")\"", "unexpected \""+rest+"\"")
			}
			j := strings.Index(rest, "->")
			k := rest
			if j >= 0 {
				k, rest = rest[:j], rest[j:]
			} else {
				rest = ""
			}
			if k == "" {
				return f, apierr.ParseError("\"failed to parse field ("+s+")\"", "empty JSON key")
			}
			f.Path = append(f.Path, JSONOp{Text: text, Key: strings.Trim(k, `'"`)})
		}
	}
	quoted := strings.HasPrefix(s, `"`)
	if f.Name == "" || (!quoted && strings.ContainsAny(f.Name, "(),")) {
		return f, apierr.ParseError("\"failed to parse field ("+s+")\"", "unexpected character in column name")
	}
	return f, nil
}

func parseFilter(path []string, col, val string) (Filter, *apierr.Error) {
	f := Filter{Path: path}
	field, err := parseField(col)
	if err != nil {
		return f, err
	}
	f.Field = field
	op, err := parseOperation(val)
	if err != nil {
		return f, err
	}
	f.Op = op
	return f, nil
}

func parseOperation(val string) (Operation, *apierr.Error) {
	var o Operation
	fail := func(detail string) (Operation, *apierr.Error) {
		return o, apierr.ParseError("\"failed to parse filter ("+val+")\" (line 1, column 1)", detail)
	}
	rest := val
	if strings.HasPrefix(rest, "not.") {
		o.Negated, rest = true, rest[4:]
	}
	opPart, value, ok := strings.Cut(rest, ".")
	if !ok {
		if operators[opPart] {
			value = ""
		} else {
			expecting := "operator (eq, gt, ...)"
			if !o.Negated {
				expecting = "\"not\" or " + expecting
			}
			return fail("unexpected " + unexpectedAt(rest, 0) + " expecting " + expecting)
		}
	}
	name := opPart
	if i := strings.IndexByte(opPart, '('); i >= 0 && strings.HasSuffix(opPart, ")") {
		name = opPart[:i]
		arg := opPart[i+1 : len(opPart)-1]
		switch {
		case arg == "any" || arg == "all":
			o.Quant = arg
		case name == "fts" || name == "plfts" || name == "phfts" || name == "wfts":
			o.Language = arg
		default:
			return fail("unexpected \"(" + arg + ")\"")
		}
	}
	if !operators[name] {
		return fail("unknown operator \"" + name + "\"")
	}
	o.Op = name
	switch {
	case name == "in":
		if !strings.HasPrefix(value, "(") || !strings.HasSuffix(value, ")") {
			return fail("in requires a parenthesized list: in.(a,b)")
		}
		o.List = parseList(value[1 : len(value)-1])
	case name == "is":
		switch strings.ToLower(value) {
		case "null", "not_null", "true", "false", "unknown":
			o.Value = strings.ToLower(value)
		default:
			return fail("is requires null, not_null, true, false or unknown")
		}
	case o.Quant != "":
		if !strings.HasPrefix(value, "{") || !strings.HasSuffix(value, "}") {
			return fail("a quantified operator requires a list: {a,b}")
		}
		o.List = parseList(value[1 : len(value)-1])
	default:
		o.Value = value
	}
	return o, nil
}

// parseList splits a,b,"c,d" honouring quotes and backslash escapes.
func parseList(s string) []string {
	if strings.TrimSpace(s) == "" {
		return []string{}
	}
	var out []string
	for _, item := range splitTop(s, ',') {
		item = strings.TrimSpace(item)
		if len(item) >= 2 && item[0] == '"' && item[len(item)-1] == '"' {
			item = unescapeQuoted(item[1 : len(item)-1])
		}
		out = append(out, item)
	}
	return out
}

func parseOrder(v string) ([]OrderTerm, *apierr.Error) {
	var terms []OrderTerm
	for _, part := range splitTop(v, ',') {
		part = strings.TrimSpace(part)
		if part == "" {
			return nil, apierr.ParseError("\"failed to parse order ("+v+")\"", "empty order term")
		}
		var t OrderTerm
		// rel(col).desc
		if i := strings.IndexByte(part, '('); i > 0 {
			j := strings.IndexByte(part, ')')
			if j < i {
				return nil, apierr.ParseError("\"failed to parse order ("+v+")\"", "unbalanced parentheses")
			}
			t.Relation = part[:i]
			part = part[i+1:j] + part[j+1:]
		}
		segs := splitTop(part, '.')
		f, err := parseField(segs[0])
		if err != nil {
			return nil, err
		}
		t.Field = f
		for _, m := range segs[1:] {
			switch m {
			case "asc":
				t.Desc = false
			case "desc":
				t.Desc = true
			case "nullsfirst":
				t.Nulls = NullsFirst
			case "nullslast":
				t.Nulls = NullsLast
			default:
				return nil, apierr.ParseError("\"failed to parse order ("+v+")\"", "unexpected \""+m+"\" expecting \"asc\", \"desc\", \"nullsfirst\" or \"nullslast\"")
			}
		}
		terms = append(terms, t)
	}
	return terms, nil
}

// parseSelect parses select=, including embeds and aggregates.
func parseSelect(v string) ([]SelectItem, *apierr.Error) {
	v = v[:balancedPrefix(v)]
	fail := func(d string) *apierr.Error {
		return apierr.ParseError("\"failed to parse select parameter ("+v+")\"", d)
	}
	parts := splitTop(v, ',')
	items := make([]SelectItem, 0, len(parts))
	for _, part := range parts {
		part = strings.TrimSpace(part)
		if part == "" {
			if strings.TrimSpace(v) == "" {
				return nil, nil
			}
			return nil, fail("empty select item")
		}
		var it SelectItem
		spread := strings.HasPrefix(part, "...")
		if spread {
			part = part[3:]
		}
		// alias:rest (but not the :: of a cast)
		if i := indexOutside(part, ":"); i > 0 && !strings.HasPrefix(part[i:], "::") && indexOutside(part[:i], "(") < 0 {
			it.Alias, part = strings.Trim(part[:i], `"`), part[i+1:]
		}
		if open := indexOutside(part, "("); open > 0 && strings.HasSuffix(part, ")") && !isAggregateCall(part) {
			head, body := part[:open], part[open+1:len(part)-1]
			e := &Embed{Alias: it.Alias, Spread: spread}
			hs := strings.Split(head, "!")
			e.Name = hs[0]
			for _, h := range hs[1:] {
				switch h {
				case "inner", "left":
					e.JoinType = h
				default:
					e.Hint = h
				}
			}
			sub, err := parseSelect(body)
			if err != nil {
				return nil, err
			}
			if sub == nil {
				sub = []SelectItem{}
			}
			e.Select = sub
			it.Embed = e
			items = append(items, it)
			continue
		}
		if spread {
			return nil, fail("spread (...) needs an embedded resource")
		}
		// cast of the aggregate: col.sum()::int ; column cast: col::text
		if i := indexOutside(part, "()"); i >= 0 {
			head, tail := part[:i], part[i+2:]
			if c, ok := strings.CutPrefix(tail, "::"); ok {
				it.AggregateCast = c
			} else if tail != "" {
				return nil, fail("unexpected \"" + tail + "\"")
			}
			if head == "count" {
				it.Aggregate = "count"
				items = append(items, it)
				continue
			}
			dot := lastIndexOutside(head, ".")
			if dot < 0 {
				return nil, fail("unknown aggregate \"" + head + "\"")
			}
			agg := head[dot+1:]
			switch agg {
			case "count", "sum", "avg", "max", "min":
			default:
				return nil, fail("unknown aggregate \"" + agg + "\"")
			}
			it.Aggregate = agg
			part = head[:dot]
		}
		if i := indexOutside(part, "::"); i >= 0 {
			it.Cast, part = part[i+2:], part[:i]
		}
		f, err := parseField(part)
		if err != nil {
			return nil, err
		}
		it.Field = f
		items = append(items, it)
	}
	return items, nil
}

// checkJSONKeys rejects a JSON key of select that starts with one of the
// characters the grammar reserves, at its position, as PostgREST does.
func checkJSONKeys(v string) *apierr.Error {
	quoted := false
	for i := 0; i < len(v); i++ {
		switch {
		case v[i] == '"':
			quoted = !quoted
		case quoted || !strings.HasPrefix(v[i:], "->"):
		default:
			i += 2
			if i < len(v) && v[i] == '>' {
				i++
			}
			if i < len(v) && strings.IndexByte(".,>()", v[i]) >= 0 {
				return apierr.ParseError("\"failed to parse select parameter ("+v+")\" (line 1, column "+strconv.Itoa(i+1)+")",
					"unexpected \""+v[i:i+1]+"\" expecting \"-\", digit or any non reserved character different from: .,>()")
			}
			i--
		}
	}
	return nil
}

// balancedPrefix is the length of s up to its first unbalanced ')': like
// PostgREST's select parser, parsing stops there and the rest is ignored.
func balancedPrefix(s string) int {
	depth, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '(':
			depth++
		case c == ')':
			if depth == 0 {
				return i
			}
			depth--
		}
	}
	return len(s)
}

func isAggregateCall(part string) bool {
	i := indexOutside(part, "()")
	if i < 0 || indexOutside(part[:i], "(") >= 0 {
		return false
	}
	head := part[:i]
	return head == "count" || indexOutside(head, ".") >= 0
}

// indexOutside is strings.Index skipping double-quoted names, whose
// characters are never grammar.
func indexOutside(s, sub string) int {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '"':
			quoted = !quoted
		case !quoted && strings.HasPrefix(s[i:], sub):
			return i
		}
	}
	return -1
}

func lastIndexOutside(s, sub string) int {
	last, quoted := -1, false
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '"':
			quoted = !quoted
		case !quoted && strings.HasPrefix(s[i:], sub):
			last = i
		}
	}
	return last
}

// unexpectedAt names what stands at s[i] the way PostgREST's parser does.
func unexpectedAt(s string, i int) string {
	if i >= len(s) {
		return "end of input"
	}
	r := []rune(s[i:])[0]
	return strconv.Quote(string(r))
}
