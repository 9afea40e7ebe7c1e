package planner

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"

	"github.com/pgrest/pgrest/apierr"
	"github.com/pgrest/pgrest/request"
)

// A JSON body goes to PostgreSQL as the bytes it arrived as; Go only walks
// it once, token by token, to learn what the statement needs (the first
// row, the row count, whether the rows agree on their keys). No row but
// the first is kept, so a large body costs its own size, not a map per row.

var errMismatch = errors.New("mismatch")

func keysMismatch() error {
	return apierr.ObjectKeysMismatch()
}

// rowScanner walks a JSON body of rows: the decoder checks each row and
// hands it over whole (UnmarshalJSON), and only its keys are read.
type rowScanner struct {
	dec     *json.Decoder
	uniform bool           // every row must have the first row's keys
	want    map[string]int // columns whose presence is recorded per row
	p       *rowsPayload
	// index numbers the first row's keys; seen[i] == row marks key i as
	// found in that row (duplicate keys count once, as in a map).
	index map[string]int
	seen  []int
	found int
}

// scanJSONRows follows PostgREST: invalid or empty JSON is "Empty or
// invalid json"; an array must hold objects with the same keys ("All
// object keys must match"), checked only once the whole body is known to
// be valid JSON; a scalar counts as no rows. want, when not nil, are the
// columns whose presence in each row is recorded (missing=default).
func scanJSONRows(body []byte, uniform bool, want []string) (*rowsPayload, error) {
	if len(body) <= request.FastJSONMax {
		if p, err := scanRowsFast(body, uniform, want); p != nil || err != nil {
			return p, err
		}
	}
	return scanRowsDecoder(body, uniform, want)
}

// scanRowsDecoder is scanJSONRows with json.Decoder: what scanRowsFast
// leaves, and the reference it is fuzzed against.
func scanRowsDecoder(body []byte, uniform bool, want []string) (*rowsPayload, error) {
	s := &rowScanner{dec: json.NewDecoder(bytes.NewReader(body)), uniform: uniform,
		p: &rowsPayload{arg: json.RawMessage(body)}}
	if want != nil {
		s.want = make(map[string]int, len(want))
		for i, c := range want {
			s.want[c] = i
		}
	}
	err := s.body(body)
	if err == nil {
		_, err = s.dec.Token()
		if err == io.EOF {
			return s.p, nil
		}
		err = apierr.InvalidBody("")
	}
	if errors.Is(err, errMismatch) {
		if !json.Valid(body) {
			return nil, apierr.InvalidBody("")
		}
		return nil, keysMismatch()
	}
	return nil, err
}

func (s *rowScanner) body(body []byte) error {
	invalid := apierr.InvalidBody("")
	switch t := bytes.TrimLeft(body, " \t\r\n"); {
	case len(t) > 0 && t[0] == '{':
		s.p.object = true
		return decodeErr(s.dec.Decode(s), invalid)
	case len(t) > 0 && t[0] == '[':
		if _, err := s.dec.Token(); err != nil {
			return invalid
		}
		for s.dec.More() {
			if err := s.dec.Decode(s); err != nil {
				return decodeErr(err, invalid)
			}
		}
		if _, err := s.dec.Token(); err != nil {
			return invalid
		}
		return nil
	}
	// A scalar: no rows.
	var v json.RawMessage
	if s.dec.Decode(&v) != nil {
		return invalid
	}
	s.p.arg = json.RawMessage("[]")
	return nil
}

func decodeErr(err error, invalid error) error {
	if err == nil || errors.Is(err, errMismatch) {
		return err
	}
	return invalid
}

// UnmarshalJSON takes one row, valid JSON of any kind.
func (s *rowScanner) UnmarshalJSON(obj []byte) error {
	if obj = bytes.TrimLeft(obj, " \t\r\n"); len(obj) == 0 || obj[0] != '{' {
		return errMismatch
	}
	row := s.p.n
	s.p.n++
	if s.want != nil {
		s.p.present = append(s.p.present, make([]bool, len(s.want))...)
	}
	if row == 0 {
		if err := json.Unmarshal(obj, &s.p.first); err != nil {
			return err
		}
		s.index = make(map[string]int, len(s.p.first))
		for k := range s.p.first {
			s.index[k] = len(s.index)
		}
		s.seen = make([]int, len(s.index))
	}
	s.found = 0
	bad := false
	objectKeys(obj, func(key []byte) {
		if j, ok := s.want[string(key)]; ok {
			s.p.present[row*len(s.want)+j] = true
		}
		if row == 0 || !s.uniform {
			return
		}
		i, ok := s.index[string(key)]
		switch {
		case !ok:
			bad = true
		case s.seen[i] != row:
			s.seen[i] = row
			s.found++
		}
	})
	if row > 0 && s.uniform && (bad || s.found != len(s.index)) {
		return errMismatch
	}
	return nil
}

// objectKeys calls fn with each key of obj, a JSON object the decoder has
// already found valid, so only its structure needs following. A key is
// unescaped only when it holds an escape.
func objectKeys(obj []byte, fn func(key []byte)) {
	objectMembers(obj, func(key, _ []byte) { fn(key) })
}

// objectMembers is objectKeys with each value too, as written.
func objectMembers(obj []byte, fn func(key, value []byte)) {
	i := skipSpace(obj, 1)
	for i < len(obj) && obj[i] == '"' {
		end := stringEnd(obj, i)
		key := obj[i+1 : end-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			var k string
			_ = json.Unmarshal(obj[i:end], &k)
			key = []byte(k)
		}
		v := skipSpace(obj, skipSpace(obj, end)+1) // past ':'
		i = skipValue(obj, v)
		fn(key, bytes.TrimRight(obj[v:i], " \t\r\n"))
		if i = skipSpace(obj, i); i >= len(obj) || obj[i] != ',' {
			return
		}
		i = skipSpace(obj, i+1)
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd is the index past the string starting at b[i].
func stringEnd(b []byte, i int) int {
	for i++; i < len(b) && b[i] != '"'; i++ {
		if b[i] == '\\' {
			i++
		}
	}
	return i + 1
}

// skipValue is the index past the value starting at b[i].
func skipValue(b []byte, i int) int {
	depth := 0
	for ; i < len(b); i++ {
		switch b[i] {
		case '"':
			i = stringEnd(b, i) - 1
			if depth == 0 {
				return i + 1
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i
			}
			if depth--; depth == 0 {
				return i + 1
			}
		case ',':
			if depth == 0 {
				return i
			}
		}
	}
	return i
}
