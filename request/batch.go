package request

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/pgrest/pgrest/apierr"
)

// BatchMediaType is the Content-Type of a batch: POST / with a JSON array
// of operations that run in one transaction (pgrest-only).
const BatchMediaType = "application/vnd.pgrest.batch+json"

// IsBatch reports whether r is a batch request.
func IsBatch(r *http.Request) bool {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		return false
	}
	mt := parseAccept(r.Header.Get("Content-Type"))
	return len(mt) > 0 && mt[0].Type+"/"+mt[0].Subtype == BatchMediaType
}

// ParsePrefer reads Prefer headers as a single request would.
func ParsePrefer(values []string) (Preferences, error) {
	var req Request
	if err := parsePrefer(&req, values); err != nil {
		return req.Prefs, err
	}
	return req.Prefs, nil
}

// BatchOp is one operation of a batch, as the client wrote it. Its
// references are checked (well-formed, backward) but not yet resolved.
type BatchOp struct {
	Method  string
	Path    string // with its query string
	Headers http.Header
	Body    []byte // the body to send; nil when none
	// tree is the decoded body when it holds references; they are replaced
	// in it and the body re-encoded once the earlier results are known.
	tree any
	// marks are the ${pointer} placeholders of Path.
	marks []mark
	// uri is Path parsed, when it has no placeholders.
	uri *url.URL
}

// HasRefs reports whether the operation depends on earlier results.
func (op *BatchOp) HasRefs() bool { return op.tree != nil || len(op.marks) > 0 }

// batchHeaders are the headers an operation may carry: the ones that
// choose what a request means. Identity (Authorization, cookies) is the
// batch's own and the same for every operation.
var batchHeaders = map[string]bool{
	"Prefer": true, "Accept": true, "Accept-Profile": true, "Content-Profile": true,
	"Range": true, "Content-Type": true,
}

var batchMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true,
	http.MethodPatch: true, http.MethodPut: true, http.MethodDelete: true,
}

type wireOp struct {
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
	// pairs are the headers as fastOps read them, in place of the map.
	pairs []header
}

// ParseBatch reads a batch body: every operation's shape and every
// reference are checked here, before anything runs. On error, bad is the
// operation at fault (-1 for the batch as a whole).
func ParseBatch(body []byte, maxOps int) (ops []BatchOp, bad int, err error) {
	if len(body) <= FastJSONMax {
		if ws := fastOps(body, maxOps); ws != nil {
			return buildOps(ws)
		}
	}
	return parseBatchDecoder(body, maxOps)
}

// parseBatchDecoder is ParseBatch with encoding/json alone: what fastOps
// cannot read, and the reference it is fuzzed against.
func parseBatchDecoder(body []byte, maxOps int) (ops []BatchOp, bad int, err error) {
	if ws := decodeOps(body, maxOps); ws != nil {
		return buildOps(ws)
	}
	// Something is wrong: read operation by operation, to say which.
	var raws []json.RawMessage
	if err := json.Unmarshal(body, &raws); err != nil {
		return nil, -1, apierr.BatchInvalid(err.Error())
	}
	if len(raws) == 0 {
		return nil, -1, apierr.BatchInvalid("the batch has no operations")
	}
	if maxOps > 0 && len(raws) > maxOps {
		return nil, -1, apierr.BatchTooLarge(len(raws), maxOps)
	}
	ops = make([]BatchOp, len(raws))
	for k, raw := range raws {
		if err := parseOp(k, raw, &ops[k]); err != nil {
			return nil, k, err
		}
	}
	return ops, -1, nil
}

func buildOps(ws []wireOp) ([]BatchOp, int, error) {
	ops := make([]BatchOp, len(ws))
	for k := range ws {
		if err := buildOp(k, &ws[k], &ops[k]); err != nil {
			return nil, k, err
		}
	}
	return ops, -1, nil
}

func parseOp(k int, raw json.RawMessage, op *BatchOp) *apierr.Error {
	var w wireOp
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil || bytes.TrimSpace(raw)[0] != '{' {
		msg := "operation " + strconv.Itoa(k) + " is not an object"
		if err != nil {
			msg = "operation " + strconv.Itoa(k) + ": " + err.Error()
		}
		return apierr.BatchInvalid(msg)
	}
	return buildOp(k, &w, op)
}

// decodeOps reads a well-formed batch in one pass; nil when it is not one
// (empty, too long, an operation that is not an object or has unknown
// fields, trailing text), which parseOp then reports.
func decodeOps(body []byte, maxOps int) []wireOp {
	var ws []*wireOp
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if dec.Decode(&ws) != nil || len(ws) == 0 || (maxOps > 0 && len(ws) > maxOps) {
		return nil
	}
	if len(bytes.TrimSpace(body[dec.InputOffset():])) > 0 {
		return nil
	}
	out := make([]wireOp, len(ws))
	for k, w := range ws {
		if w == nil {
			return nil
		}
		out[k] = *w
	}
	return out
}

// buildOp checks a decoded operation and makes it the BatchOp op.
func buildOp(k int, w *wireOp, op *BatchOp) *apierr.Error {
	*op = BatchOp{Method: strings.ToUpper(w.Method), Path: w.Path, Headers: http.Header{}}
	if !batchMethods[op.Method] {
		return apierr.BatchOperationInvalid(k, "method '"+w.Method+"' (use GET, HEAD, POST, PATCH, PUT or DELETE)")
	}
	if !strings.HasPrefix(op.Path, "/") || strings.IndexByte(op.Path, '#') >= 0 || strings.IndexByte(op.Path, 0) >= 0 {
		return apierr.BatchOperationInvalid(k, "path '"+w.Path+"' (a path starts with / and has no fragment)")
	}
	if p, _, _ := strings.Cut(op.Path, "?"); p == "/" {
		return apierr.BatchOperationInvalid(k, "the root path / (the OpenAPI document, or a nested batch)")
	}
	for name, v := range w.Headers {
		if err := op.setHeader(k, name, v); err != nil {
			return err
		}
	}
	for _, h := range w.pairs {
		if err := op.setHeader(k, h.name, h.value); err != nil {
			return err
		}
	}
	var err *apierr.Error
	if op.marks, err = placeholders(k, op.Path); err != nil {
		return err
	}
	if len(op.marks) == 0 {
		u, perr := url.ParseRequestURI(op.Path)
		if perr != nil {
			return apierr.BatchOperationInvalid(k, "path '"+op.Path+"': "+perr.Error())
		}
		op.uri = u
	}
	return op.setBody(k, w.Body)
}

func (op *BatchOp) setHeader(k int, name, v string) *apierr.Error {
	cn := http.CanonicalHeaderKey(name)
	if !batchHeaders[cn] {
		return apierr.BatchOperationInvalid(k, "header '"+name+"' (allowed: Prefer, Accept, Accept-Profile, Content-Profile, Range, Content-Type)")
	}
	op.Headers[cn] = []string{v} // Set, without canonicalizing cn again
	return nil
}

// setBody keeps the body as sent, unless it holds references (then its
// decoded tree waits for them). A JSON string sent with a non-JSON
// Content-Type (CSV, plain text, binary) is that text itself.
func (op *BatchOp) setBody(k int, raw json.RawMessage) *apierr.Error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	ct := op.Headers.Get("Content-Type")
	if raw[0] == '"' && ct != "" && !strings.Contains(strings.ToLower(ct), "json") {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return apierr.BatchInvalid("operation " + strconv.Itoa(k) + ": " + err.Error())
		}
		op.Body = []byte(s)
		return nil
	}
	if ct == "" {
		op.Headers.Set("Content-Type", "application/json")
	}
	op.Body = raw
	if !bytes.Contains(raw, []byte(`"$ref"`)) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return apierr.BatchInvalid("operation " + strconv.Itoa(k) + ": " + err.Error())
	}
	found := false
	if err := walkRefs(tree, func(ptr any) *apierr.Error {
		found = true
		_, err := checkPointer(k, ptr)
		return err
	}); err != nil {
		return err
	}
	if found {
		op.tree = tree
	}
	return nil
}

// refOf reports whether v is a reference: an object whose only key is "$ref".
func refOf(v any) (any, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return nil, false
	}
	p, ok := m["$ref"]
	return p, ok
}

// walkRefs calls visit with every reference's pointer in a decoded body.
func walkRefs(v any, visit func(any) *apierr.Error) *apierr.Error {
	if p, ok := refOf(v); ok {
		return visit(p)
	}
	switch t := v.(type) {
	case map[string]any:
		for _, e := range t {
			if err := walkRefs(e, visit); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range t {
			if err := walkRefs(e, visit); err != nil {
				return err
			}
		}
	}
	return nil
}

// replaceRefs returns v with every reference replaced by what it points to.
func replaceRefs(v any, lookup func(any) (any, *apierr.Error)) (any, *apierr.Error) {
	if p, ok := refOf(v); ok {
		return lookup(p)
	}
	var err *apierr.Error
	switch t := v.(type) {
	case map[string]any:
		for key, e := range t {
			if t[key], err = replaceRefs(e, lookup); err != nil {
				return nil, err
			}
		}
	case []any:
		for i, e := range t {
			if t[i], err = replaceRefs(e, lookup); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}

// pointer is a parsed JSON pointer (RFC 6901) whose first token is the
// index of an earlier operation.
type pointer struct {
	text   string
	op     int
	tokens []string // after the operation index
}

func checkPointer(k int, v any) (*pointer, *apierr.Error) {
	s, ok := v.(string)
	if !ok {
		b, _ := json.Marshal(v)
		return nil, apierr.BatchBadPointer(k, string(b), "a reference is a string")
	}
	if !strings.HasPrefix(s, "/") {
		return nil, apierr.BatchBadPointer(k, s, "a JSON pointer starts with /")
	}
	toks := strings.Split(s[1:], "/")
	for i, t := range toks {
		u, valid := unescapeToken(t)
		if !valid {
			return nil, apierr.BatchBadPointer(k, s, "~ must be followed by 0 or 1")
		}
		toks[i] = u
	}
	n, ok := arrayIndex(toks[0])
	if !ok {
		return nil, apierr.BatchBadPointer(k, s, "the first token must be an operation index")
	}
	if n >= k {
		return nil, apierr.BatchForwardRef(k, n, s)
	}
	return &pointer{text: s, op: n, tokens: toks[1:]}, nil
}

func unescapeToken(t string) (string, bool) {
	if !strings.Contains(t, "~") {
		return t, true
	}
	var sb strings.Builder
	for i := 0; i < len(t); i++ {
		if t[i] != '~' {
			sb.WriteByte(t[i])
			continue
		}
		if i+1 == len(t) || (t[i+1] != '0' && t[i+1] != '1') {
			return "", false
		}
		sb.WriteByte("~/"[t[i+1]-'0'])
		i++
	}
	return sb.String(), true
}

// arrayIndex reads an RFC 6901 array index: digits without a leading zero.
func arrayIndex(t string) (int, bool) {
	if t == "" || len(t) > 9 || (len(t) > 1 && t[0] == '0') {
		return 0, false
	}
	n := 0
	for i := 0; i < len(t); i++ {
		if t[i] < '0' || t[i] > '9' {
			return 0, false
		}
		n = n*10 + int(t[i]-'0')
	}
	return n, true
}

// resolve finds what p points to in the results so far.
func (p *pointer) resolve(k int, results []any) (any, *apierr.Error) {
	cur := results[p.op]
	for _, t := range p.tokens {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[t]
			if !ok {
				return nil, apierr.BatchMissingRef(k, p.text)
			}
			cur = v
		case []any:
			i, ok := arrayIndex(t)
			if !ok || i >= len(c) {
				return nil, apierr.BatchMissingRef(k, p.text)
			}
			cur = c[i]
		default:
			return nil, apierr.BatchMissingRef(k, p.text)
		}
	}
	return cur, nil
}

// mark is one ${pointer} of a path, at path[start:end].
type mark struct {
	start, end int
	ptr        *pointer
}

// Placeholder openers and closers, as written or percent-encoded (clients
// and libraries encode { and } in URLs differently).
var (
	openers = []string{"${", "$%7b", "%24{", "%24%7b"}
	closers = []string{"}", "%7d"}
)

// placeholders finds ${pointer} in a path; the pointer may be percent-encoded.
func placeholders(k int, path string) ([]mark, *apierr.Error) {
	if !strings.Contains(path, "$") && !strings.Contains(path, "%24") {
		return nil, nil // every opener starts with one of them
	}
	var out []mark
	lower := asciiLower(path) // same length as path, so indexes agree
	for i := 0; i < len(path); i++ {
		open := prefixAt(lower, i, openers)
		if open == 0 {
			continue
		}
		j := i + open
		end, width := -1, 0
		for _, c := range closers {
			if e := strings.Index(lower[j:], c); e >= 0 && (end < 0 || j+e < end) {
				end, width = j+e, len(c)
			}
		}
		if end < 0 {
			return nil, apierr.BatchBadPointer(k, path[i:], "a placeholder ${...} is not closed")
		}
		raw, err := url.PathUnescape(path[j:end])
		if err != nil {
			return nil, apierr.BatchBadPointer(k, path[j:end], "invalid percent-encoding")
		}
		p, aerr := checkPointer(k, raw)
		if aerr != nil {
			return nil, aerr
		}
		out = append(out, mark{start: i, end: end + width, ptr: p})
		i = end + width - 1
	}
	return out, nil
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func prefixAt(s string, i int, prefixes []string) int {
	for _, p := range prefixes {
		if strings.HasPrefix(s[i:], p) {
			return len(p)
		}
	}
	return 0
}

// Resolve replaces the operation's references with the values they point
// to in results (one {status, headers, body} value per earlier operation).
// In a path, a value is written as text (a string without quotes, anything
// else as JSON) and percent-encoded, so it is one literal to the parser.
func (op *BatchOp) Resolve(k int, results []any) (*BatchOp, error) {
	out := *op
	if len(op.marks) > 0 {
		var sb strings.Builder
		last := 0
		q := strings.IndexByte(op.Path, '?')
		for _, m := range op.marks {
			v, err := m.ptr.resolve(k, results)
			if err != nil {
				return nil, err
			}
			sb.WriteString(op.Path[last:m.start])
			if q >= 0 && m.start > q {
				sb.WriteString(url.QueryEscape(asText(v)))
			} else {
				sb.WriteString(url.PathEscape(asText(v)))
			}
			last = m.end
		}
		sb.WriteString(op.Path[last:])
		out.Path, out.marks, out.uri = sb.String(), nil, nil
		if _, perr := url.ParseRequestURI(out.Path); perr != nil {
			return nil, apierr.BatchOperationInvalid(k, "path '"+out.Path+"': "+perr.Error())
		}
	}
	if op.tree != nil {
		tree, err := replaceRefs(deepCopy(op.tree), func(p any) (any, *apierr.Error) {
			ptr, err := checkPointer(k, p)
			if err != nil {
				return nil, err
			}
			return ptr.resolve(k, results)
		})
		if err != nil {
			return nil, err
		}
		out.Body, out.tree = encode(tree), nil
	}
	return &out, nil
}

func asText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return string(encode(v))
}

func encode(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // decoded JSON values always encode
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// deepCopy copies a decoded JSON value, so resolving never edits the batch.
func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, e := range t {
			s[i] = deepCopy(e)
		}
		return s
	}
	return v
}

// HTTPRequest is the operation as the HTTP request it stands for, to be
// read by Parse exactly like a request of its own. The operation must have
// no unresolved references. The request shares the operation's headers
// and body: Parse only reads them.
func (op *BatchOp) HTTPRequest(k int) (*http.Request, error) {
	var u *url.URL
	if op.uri != nil {
		c := *op.uri // the request's own: nothing edits the batch
		u = &c
	} else {
		var err error
		if u, err = url.ParseRequestURI(op.Path); err != nil {
			return nil, apierr.BatchOperationInvalid(k, "path '"+op.Path+"': "+err.Error())
		}
	}
	r := &http.Request{
		Method: op.Method, URL: u, RequestURI: op.Path, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: op.Headers, Body: http.NoBody,
	}
	if op.Body != nil {
		r.Body = &heldBody{Reader: bytes.NewReader(op.Body), b: op.Body}
		r.ContentLength = int64(len(op.Body))
	}
	return r, nil
}

// heldBody is a body already in memory: Parse takes its bytes as they are
// instead of reading them into a copy.
type heldBody struct {
	*bytes.Reader
	b []byte
}

func (*heldBody) Close() error { return nil }
