package planner

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/pgrest/pgrest/server/apierr"
)

// A JSON body goes to PostgreSQL as the bytes it arrived as; Go only walks
// it once, token by token, to learn what the statement needs (the first
// row, the row count, whether the rows agree on their keys). No row but
// the first is kept, so a large body costs its own size, not a map per row.

var errMismatch = errors.New("mismatch")

func keysMismatch() *apierr.Error {
	return apierr.New(http.StatusBadRequest, "PGRST102", "All object keys must match", "", "")
}

// rowScanner walks a JSON body of rows.
type rowScanner struct {
	dec     *json.Decoder
	uniform bool           // every row must have the first row's keys
	want    map[string]int // columns whose presence is recorded per row
	raw     json.RawMessage
	p       *rowsPayload
	// index numbers the first row's keys; seen[i] == row marks key i as
	// found in that row (duplicate keys count once, as in a map).
	index map[string]int
	seen  []int
}

// scanJSONRows follows PostgREST: invalid or empty JSON is "Empty or
// invalid json"; an array must hold objects with the same keys ("All
// object keys must match"), checked only once the whole body is known to
// be valid JSON; a scalar counts as no rows. want, when not nil, are the
// columns whose presence in each row is recorded (missing=default).
func scanJSONRows(body []byte, uniform bool, want []string) (*rowsPayload, error) {
	s := &rowScanner{dec: json.NewDecoder(bytes.NewReader(body)), uniform: uniform,
		p: &rowsPayload{arg: json.RawMessage(body)}}
	if want != nil {
		s.want = make(map[string]int, len(want))
		for i, c := range want {
			s.want[c] = i
		}
	}
	err := s.body()
	if err == nil {
		_, err = s.dec.Token()
		if err == io.EOF {
			return s.p, nil
		}
		err = apierr.InvalidBody("")
	}
	if err == errMismatch {
		if !json.Valid(body) {
			return nil, apierr.InvalidBody("")
		}
		return nil, keysMismatch()
	}
	return nil, err
}

func (s *rowScanner) body() error {
	tok, err := s.dec.Token()
	if err != nil {
		return apierr.InvalidBody("")
	}
	switch tok {
	case json.Delim('{'):
		s.p.object = true
		return s.object()
	case json.Delim('['):
		for s.dec.More() {
			if tok, err = s.dec.Token(); err != nil {
				return apierr.InvalidBody("")
			}
			if tok != json.Delim('{') {
				return errMismatch
			}
			if err := s.object(); err != nil {
				return err
			}
		}
		if _, err := s.dec.Token(); err != nil {
			return apierr.InvalidBody("")
		}
		return nil
	}
	// A scalar: no rows.
	s.p.arg = json.RawMessage("[]")
	return nil
}

// object reads one row, its opening brace already read.
func (s *rowScanner) object() error {
	row := s.p.n
	s.p.n++
	if row == 0 {
		s.p.first = map[string]json.RawMessage{}
	}
	if s.want != nil {
		s.p.present = append(s.p.present, make([]bool, len(s.want))...)
	}
	found := 0
	for s.dec.More() {
		tok, err := s.dec.Token()
		if err != nil {
			return apierr.InvalidBody("")
		}
		key, _ := tok.(string)
		if err := s.dec.Decode(&s.raw); err != nil {
			return apierr.InvalidBody("")
		}
		if j, ok := s.want[key]; ok {
			s.p.present[row*len(s.want)+j] = true
		}
		switch {
		case row == 0:
			s.p.first[key] = bytes.Clone(s.raw)
		case s.uniform:
			i, ok := s.index[key]
			if !ok {
				return errMismatch
			}
			if s.seen[i] != row {
				s.seen[i] = row
				found++
			}
		}
	}
	if _, err := s.dec.Token(); err != nil {
		return apierr.InvalidBody("")
	}
	if row == 0 && s.uniform {
		s.index = make(map[string]int, len(s.p.first))
		for k := range s.p.first {
			s.index[k] = len(s.index)
		}
		s.seen = make([]int, len(s.index))
	}
	if row > 0 && s.uniform && found != len(s.index) {
		return errMismatch
	}
	return nil
}
