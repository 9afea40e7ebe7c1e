package server

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/pgrest/pgrest/apierr"
	"github.com/pgrest/pgrest/cache"
	"github.com/pgrest/pgrest/planner"
	"github.com/pgrest/pgrest/request"
	"github.com/pgrest/pgrest/server/config"
)

// Bulk loads: a POST body in NDJSON, or a large CSV body or JSON array,
// is never read into memory. The edge takes it before the request is
// parsed, reads only its first line (the columns), and hands the rest to
// the executor, whose COPY reads it as it arrives. JSON rows are checked
// here, one at a time, as PostgREST checks a JSON body, and go on as one
// line each.

// bulkBody is a POST body on its way to COPY.
type bulkBody struct {
	format string // request.BulkCSV or request.BulkJSON
	array  bool   // a JSON array (else one JSON object per line)
	src    *bufio.Reader
	// reader is what COPY reads, set by attach.
	reader io.Reader
}

// takeBulk decides, before the body is read, whether it goes by COPY,
// and if so takes it out of r: the parser then sees an empty body.
func takeBulk(r *http.Request, cfg *config.Config) *bulkBody {
	if r.Method != http.MethodPost || r.URL.Path == "/" || strings.HasPrefix(r.URL.Path, "/rpc/") {
		return nil
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	ndjson := mt == "application/x-ndjson" || mt == "application/jsonl"
	if !ndjson && (r.Body == nil || r.Body == http.NoBody) {
		return nil
	}
	var body io.Reader = http.NoBody
	if r.Body != nil {
		body = r.Body
	}
	large := r.ContentLength > cfg.BulkMinBytes
	// The 64 KiB read buffer is taken only once the body is known to be a
	// bulk load (or may be one): a small insert must not pay for it.
	b := &bulkBody{format: request.BulkJSON}
	switch {
	case ndjson:
	case mt == "text/csv":
		if !large && r.ContentLength >= 0 {
			return nil
		}
		b.format = request.BulkCSV
	case mt == "application/json":
		if !large {
			return nil
		}
		b.src = bufio.NewReaderSize(body, 64<<10)
		// Only an array is rows; anything else goes the usual way.
		if firstByte(b.src) != '[' {
			r.Body = readCloser{b.src, r.Body}
			return nil
		}
		b.array = true
	default:
		return nil
	}
	if b.src == nil {
		b.src = bufio.NewReaderSize(body, 64<<10)
	}
	r.Body, r.ContentLength = http.NoBody, 0
	return b
}

type readCloser struct {
	io.Reader
	io.Closer
}

// firstByte peeks at the first byte that is not JSON whitespace.
func firstByte(br *bufio.Reader) byte {
	for i := 1; ; i++ {
		b, err := br.Peek(i)
		if len(b) < i {
			return 0
		}
		if c := b[i-1]; c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return c
		}
		if err != nil {
			return 0
		}
	}
}

// bodyReader turns a failed read of a CSV body into its API error (too
// large, stalled), which the executor then answers with.
type bodyReader struct{ r io.Reader }

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		return n, apierr.BodyReadError(err)
	}
	return n, err
}

// attach reads the body's first line into req.Bulk and readies the rest
// for COPY. A request the bulk path does not serve (not an insert, or
// rows that may each lack other columns: columns= with missing=default)
// gets its body read whole, as any other. rel is the target (nil when
// unknown: the planner answers that).
func (b *bulkBody) attach(req *request.Request, rel *cache.Relation) error {
	sparse := req.Columns != nil && req.Prefs.Missing == "default" && b.format == request.BulkJSON
	if req.Action != request.ActCreate || sparse {
		return b.readWhole(req)
	}
	if b.format == request.BulkCSV {
		header, err := b.src.ReadString('\n')
		if err != nil && err != io.EOF {
			return apierr.BodyReadError(err)
		}
		names, cerr := csv.NewReader(strings.NewReader(header)).Read()
		if cerr != nil {
			return apierr.InvalidBody("the CSV body needs a header line")
		}
		req.Bulk = &request.Bulk{Format: b.format, Cols: names}
		b.reader = &bodyReader{io.MultiReader(strings.NewReader(header), b.src)}
		return nil
	}
	j := &jsonRows{next: b.nextLine}
	if b.array {
		j.dec = json.NewDecoder(b.src)
		if _, err := j.dec.Token(); err != nil {
			return apierr.InvalidBody("")
		}
		j.next = j.nextElement
	}
	err := j.row()
	if err == io.EOF { // no rows: nothing to insert
		req.Bulk = &request.Bulk{Format: b.format}
		b.reader = strings.NewReader("")
		return nil
	}
	if err != nil {
		return toAPIError(err)
	}
	var first map[string]json.RawMessage
	if json.Unmarshal(j.raw, &first) != nil {
		return apierr.InvalidBody(j.place())
	}
	cols := req.Columns
	if cols == nil {
		for k := range first {
			cols = append(cols, k)
		}
		slices.Sort(cols)
		j.uniform = true // every row must have the same keys
	}
	j.index = make(map[string]int, len(cols))
	for _, c := range cols {
		if _, dup := j.index[c]; !dup {
			j.index[c] = len(j.index)
			j.cols = append(j.cols, c)
		}
	}
	j.seen = make([]int, len(j.cols))
	req.Bulk = &request.Bulk{Format: b.format, Cols: j.cols}
	if j.csvFor(rel) {
		req.Bulk.Format = request.BulkRows
	}
	j.matchKeys() // the first row was read before the columns were known
	j.emit()
	b.reader = j
	return nil
}

// csvFor decides whether the rows go as CSV into a staging table of
// rel's types, and notes which columns take JSON text as it is.
func (j *jsonRows) csvFor(rel *cache.Relation) bool {
	if rel == nil {
		return false
	}
	j.jsonCol = make([]bool, len(j.cols))
	for i, name := range j.cols {
		col := rel.Column(name)
		if col == nil || !planner.PlainType(col) {
			return false
		}
		j.jsonCol[i] = col.BaseType == "json" || col.BaseType == "jsonb"
	}
	j.csv = true
	j.cur = make([][]byte, len(j.cols))
	return true
}

func toAPIError(err error) *apierr.Error {
	var ae *apierr.Error
	if errors.As(err, &ae) {
		return ae
	}
	return apierr.BodyReadError(err)
}

// readWhole puts the whole body in req.Body for the usual path; NDJSON
// lines become the JSON array they stand for.
func (b *bulkBody) readWhole(req *request.Request) *apierr.Error {
	body, err := io.ReadAll(b.src)
	if err != nil {
		return apierr.BodyReadError(err)
	}
	if b.format == request.BulkJSON && !b.array {
		var rows [][]byte
		for _, l := range bytes.Split(body, []byte("\n")) {
			if l = bytes.TrimSpace(l); len(l) > 0 {
				rows = append(rows, l)
			}
		}
		body = append(append([]byte("["), bytes.Join(rows, []byte(","))...), ']')
		req.ContentType = request.MediaType{Type: "application", Subtype: "json"}
	}
	req.Body = body
	return nil
}

// nextLine returns the next non-blank line of an NDJSON body.
func (b *bulkBody) nextLine(j *jsonRows) ([]byte, error) {
	for {
		j.line++
		var line []byte
		for {
			part, err := b.src.ReadSlice('\n')
			line = append(line, part...)
			if err == bufio.ErrBufferFull {
				continue
			}
			if err != nil && (err != io.EOF || len(line) == 0) {
				return nil, err
			}
			break
		}
		if line = bytes.TrimSpace(line); len(line) > 0 {
			return line, nil
		}
	}
}

// jsonRows is the reader COPY reads a JSON body from: one checked object
// per line, as JSON or as a CSV row of the staged columns.
type jsonRows struct {
	next func(*jsonRows) ([]byte, error)
	dec  *json.Decoder
	// line counts the body's lines (NDJSON) or the array's elements.
	line int
	// cols are the staged columns, index numbers them; uniform: every row
	// must have exactly these keys. seen[i] == line marks column i as
	// found in the current row.
	cols    []string
	index   map[string]int
	uniform bool
	seen    []int
	// keys and vals are the current row's, as written.
	keys, vals [][]byte
	// csv: rows go as CSV; cur holds the current row's values by column,
	// jsonCol the columns that take the JSON text itself.
	csv     bool
	cur     [][]byte
	jsonCol []bool
	raw     []byte
	pending []byte
	err     error
}

func (j *jsonRows) nextElement(_ *jsonRows) ([]byte, error) {
	if !j.dec.More() {
		if t, err := j.dec.Token(); err != nil || t != json.Delim(']') {
			return nil, apierr.InvalidBody("")
		}
		if _, err := j.dec.Token(); err != io.EOF {
			return nil, apierr.InvalidBody("")
		}
		return nil, io.EOF
	}
	j.line++
	var raw json.RawMessage
	if err := j.dec.Decode(&raw); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) || err == io.ErrUnexpectedEOF || err == io.EOF {
			return nil, apierr.InvalidBody(j.place())
		}
		return nil, err // the body could not be read
	}
	return raw, nil
}

// place names the current row in an error's details.
func (j *jsonRows) place() string {
	if j.dec != nil {
		return "Row " + strconv.Itoa(j.line) + " of the array"
	}
	return "Line " + strconv.Itoa(j.line) + " of the body"
}

// row reads and checks the next row into j.raw; io.EOF at the end.
func (j *jsonRows) row() error {
	raw, err := j.next(j)
	if err != nil {
		var ae *apierr.Error
		if err == io.EOF || errors.As(err, &ae) {
			return err
		}
		return apierr.BodyReadError(err)
	}
	if j.dec == nil && !json.Valid(raw) {
		return apierr.InvalidBody(j.place())
	}
	var ok bool
	if j.keys, j.vals, ok = objectFields(raw, j.keys[:0], j.vals[:0]); !ok {
		return apierr.InvalidBody(j.place())
	}
	if j.index != nil && !j.matchKeys() && j.uniform {
		e := apierr.ObjectKeysMismatch()
		e.Details = j.place() // a streamed body names the row
		return e
	}
	j.raw = raw
	return nil
}

// matchKeys notes the current row's values by column and reports whether
// its keys are exactly the columns. A key given twice counts once, its
// last value wins, as when decoded into a map.
func (j *jsonRows) matchKeys() bool {
	clear(j.cur)
	found, same := 0, true
	for n, k := range j.keys {
		name := string(k)
		if bytes.IndexByte(k, '\\') >= 0 {
			if json.Unmarshal(append(append([]byte{'"'}, k...), '"'), &name) != nil {
				return false
			}
		}
		i, ok := j.index[name]
		if !ok {
			same = false
			continue
		}
		if j.seen[i] != j.line {
			j.seen[i] = j.line
			found++
		}
		if j.csv {
			j.cur[i] = j.vals[n]
		}
	}
	return same && found == len(j.index)
}

// emit appends the current row to what COPY reads next.
func (j *jsonRows) emit() {
	if !j.csv {
		j.pending = append(append(j.pending, j.raw...), '\n')
		return
	}
	for i, v := range j.cur {
		if i > 0 {
			j.pending = append(j.pending, ',')
		}
		j.pending = csvValue(j.pending, v, j.jsonCol[i])
	}
	j.pending = append(j.pending, '\n')
}

// csvValue appends a JSON value as a CSV field: null (or no value) is the
// unquoted NULL, a string its text, anything else its JSON text (all of
// a json column's value); every other field is quoted.
func csvValue(out, v []byte, asJSON bool) []byte {
	if v == nil || string(v) == "null" {
		return append(out, "NULL"...)
	}
	if !asJSON && v[0] == '"' {
		v = v[1 : len(v)-1]
		if bytes.IndexByte(v, '\\') >= 0 {
			var s string
			_ = json.Unmarshal(append(append([]byte{'"'}, v...), '"'), &s) // valid: checked with the row
			v = []byte(s)
		}
	}
	out = append(out, '"')
	for {
		i := bytes.IndexByte(v, '"')
		if i < 0 {
			break
		}
		out = append(append(out, v[:i+1]...), '"')
		v = v[i+1:]
	}
	return append(append(out, v...), '"')
}

// objectFields appends the keys (as written, between their quotes) and
// values (their JSON text) of the valid JSON value raw; ok is false when
// raw is not an object.
func objectFields(raw []byte, keys, vals [][]byte) (_, _ [][]byte, ok bool) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return keys, vals, false
	}
	for i = skipSpace(raw, i+1); i < len(raw) && raw[i] == '"'; {
		end := stringEnd(raw, i)
		keys = append(keys, raw[i+1:end-1])
		i = skipSpace(raw, skipSpace(raw, end)+1) // past the colon
		end = valueEnd(raw, i)
		vals = append(vals, raw[i:end])
		if i = skipSpace(raw, end); i < len(raw) && raw[i] == ',' {
			i = skipSpace(raw, i+1)
		}
	}
	return keys, vals, true
}

func skipSpace(raw []byte, i int) int {
	for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\r' || raw[i] == '\n') {
		i++
	}
	return i
}

// stringEnd is the index past the string starting at raw[i].
func stringEnd(raw []byte, i int) int {
	for i++; raw[i] != '"'; i++ {
		if raw[i] == '\\' {
			i++
		}
	}
	return i + 1
}

// valueEnd is the index past the value starting at raw[i].
func valueEnd(raw []byte, i int) int {
	switch raw[i] {
	case '"':
		return stringEnd(raw, i)
	case '{', '[':
		depth := 0
		for ; ; i++ {
			switch raw[i] {
			case '"':
				i = stringEnd(raw, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
	}
	for i < len(raw) && !bytes.ContainsRune([]byte(",}] \t\r\n"), rune(raw[i])) {
		i++
	}
	return i
}

func (j *jsonRows) Read(p []byte) (int, error) {
	for len(j.pending) < len(p) && j.err == nil {
		if err := j.row(); err != nil {
			j.err = err
			break
		}
		j.emit()
	}
	n := copy(p, j.pending)
	j.pending = j.pending[:copy(j.pending, j.pending[n:])]
	if n == 0 && j.err != nil {
		return 0, j.err
	}
	return n, nil
}
