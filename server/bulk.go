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
	b := &bulkBody{format: request.BulkJSON, src: bufio.NewReaderSize(&bodyReader{body}, 64<<10)}
	switch {
	case ndjson:
	case mt == "text/csv":
		if !large && r.ContentLength >= 0 {
			return nil
		}
		b.format = request.BulkCSV
	case mt == "application/json":
		// Only an array is rows; anything else goes the usual way.
		if !large || firstByte(b.src) != '[' {
			r.Body = readCloser{b.src, r.Body}
			return nil
		}
		b.array = true
	default:
		return nil
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

// bodyReader turns a failed body read into its API error (too large,
// stalled), which the executor then answers with.
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
// gets its body read whole, as any other.
func (b *bulkBody) attach(req *request.Request) *apierr.Error {
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
		b.reader = io.MultiReader(strings.NewReader(header), b.src)
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
	cols := []string{}
	for k := range first {
		cols = append(cols, k)
	}
	slices.Sort(cols)
	if req.Columns == nil {
		// every row must have the same keys
		j.index = make(map[string]int, len(cols))
		for i, c := range cols {
			j.index[c] = i
		}
		j.seen = make([]int, len(cols))
	}
	req.Bulk = &request.Bulk{Format: b.format, Cols: cols}
	j.pending = append(j.raw, '\n')
	b.reader = j
	return nil
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
// per line.
type jsonRows struct {
	next func(*jsonRows) ([]byte, error)
	dec  *json.Decoder
	// line counts the body's lines (NDJSON) or the array's elements.
	line int
	// index numbers the first row's keys when every row must have them;
	// seen[i] == line marks key i as found in the current row.
	index   map[string]int
	seen    []int
	keys    [][]byte // the current row's keys
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
		var ae *apierr.Error
		if errors.As(err, &ae) {
			return nil, ae
		}
		return nil, apierr.InvalidBody(j.place())
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
		return err
	}
	if j.dec == nil && !json.Valid(raw) {
		return apierr.InvalidBody(j.place())
	}
	keys, ok := objectKeys(raw, j.keys[:0])
	j.keys = keys
	if !ok {
		return apierr.InvalidBody(j.place())
	}
	if j.index != nil && !j.sameKeys() {
		return apierr.New(http.StatusBadRequest, "PGRST102", "All object keys must match", j.place(), "")
	}
	j.raw = raw
	return nil
}

// sameKeys reports whether the row's keys (j.keys) are the first row's.
// A key seen twice counts once, as when decoded into a map.
func (j *jsonRows) sameKeys() bool {
	found := 0
	for _, k := range j.keys {
		name := string(k)
		if bytes.IndexByte(k, '\\') >= 0 {
			if json.Unmarshal(append(append([]byte{'"'}, k...), '"'), &name) != nil {
				return false
			}
		}
		i, ok := j.index[name]
		if !ok {
			return false
		}
		if j.seen[i] != j.line {
			j.seen[i] = j.line
			found++
		}
	}
	return found == len(j.index)
}

// objectKeys appends the keys (as written, between their quotes) of the
// valid JSON value raw to dst; ok is false when raw is not an object.
func objectKeys(raw []byte, dst [][]byte) ([][]byte, bool) {
	i := 0
	for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\r' || raw[i] == '\n') {
		i++
	}
	if i >= len(raw) || raw[i] != '{' {
		return dst, false
	}
	depth, key := 0, false
	for ; i < len(raw); i++ {
		switch raw[i] {
		case '{', '[':
			depth++
			key = depth == 1
		case '}', ']':
			depth--
		case ',':
			key = depth == 1
		case '"':
			start := i + 1
			for i++; raw[i] != '"'; i++ {
				if raw[i] == '\\' {
					i++
				}
			}
			if key {
				dst = append(dst, raw[start:i])
				key = false
			}
		}
	}
	return dst, true
}

func (j *jsonRows) Read(p []byte) (int, error) {
	for len(j.pending) < len(p) && j.err == nil {
		if err := j.row(); err != nil {
			j.err = err
			break
		}
		j.pending = append(append(j.pending, j.raw...), '\n')
	}
	n := copy(p, j.pending)
	j.pending = j.pending[:copy(j.pending, j.pending[n:])]
	if n == 0 && j.err != nil {
		return 0, j.err
	}
	return n, nil
}
