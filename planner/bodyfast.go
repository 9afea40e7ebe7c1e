package planner

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/pgrest/pgrest/jsonscan"
)

// json.Decoder's reflection and buffering cost more than a small write
// body itself. scanRowsFast reads the common case by hand: a valid body
// (checked first, strictly) that is an object, an array of objects or a
// scalar. For an invalid body, or an array holding a non-object, it
// returns nil, nil, and scanRowsDecoder reports it as before.
func scanRowsFast(body []byte, uniform bool, want []string) (*rowsPayload, error) {
	if !jsonscan.Valid(body) {
		return nil, nil
	}
	p := &rowsPayload{arg: json.RawMessage(body)}
	i := jsonscan.Space(body, 0)
	var wantAt map[string]int
	if want != nil { // as rowScanner: the last of a repeated name counts
		wantAt = make(map[string]int, len(want))
		for j, c := range want {
			wantAt[c] = j
		}
	}
	switch body[i] {
	case '{':
		p.object, p.n = true, 1
		p.first = firstRow(body[i:])
		p.present = presence(p.present, body[i:], wantAt)
		return p, nil
	case '[':
	default: // a scalar: no rows
		p.arg = json.RawMessage("[]")
		return p, nil
	}
	var keys rowKeys
	for i = jsonscan.Space(body, i+1); body[i] != ']'; {
		if body[i] != '{' {
			return nil, nil
		}
		end := skipValue(body, i)
		obj := body[i:end]
		if p.n == 0 {
			if p.first = firstRow(obj); uniform {
				keys.init(p.first)
			}
		} else if uniform && !keys.match(obj, p.n) {
			return nil, keysMismatch()
		}
		p.n++
		p.present = presence(p.present, obj, wantAt)
		if i = jsonscan.Space(body, end); body[i] == ',' {
			i = jsonscan.Space(body, i+1)
		}
	}
	return p, nil
}

// firstRow is the valid object obj decoded as encoding/json would into a
// map: keys unescaped with bad UTF-8 as U+FFFD, the last of repeated keys
// kept, values as written (parts of the body, which already is the
// statement's parameter).
func firstRow(obj []byte) map[string]json.RawMessage {
	m := map[string]json.RawMessage{}
	objectMembers(obj, func(key, v []byte) {
		if utf8.Valid(key) {
			m[string(key)] = v[:len(v):len(v)]
		} else {
			m[badKey(key)] = v[:len(v):len(v)]
		}
	})
	return m
}

// badKey is a key with bytes that are not UTF-8 (and no escape, or
// objectMembers would have decoded it), as encoding/json reads it.
func badKey(key []byte) string {
	var k string
	_ = json.Unmarshal(append(append([]byte{'"'}, key...), '"'), &k)
	return k
}

// presence records which of the wanted columns the row obj has.
func presence(present []bool, obj []byte, wantAt map[string]int) []bool {
	if wantAt == nil {
		return present
	}
	row := len(present)
	present = append(present, make([]bool, len(wantAt))...)
	objectKeys(obj, func(key []byte) {
		if j, ok := wantAt[string(key)]; ok {
			present[row+j] = true
		}
	})
	return present
}

// rowKeys are the first row's keys, which every later row must have, and
// only them (repeats count once, as in a map). A few are searched in
// order; a map pays off only for wide rows.
type rowKeys struct {
	keys  []string
	index map[string]int
	seen  []int // seen[j] == row: key j was found in that row
}

func (r *rowKeys) init(first map[string]json.RawMessage) {
	for k := range first {
		r.keys = append(r.keys, k)
	}
	if len(r.keys) > 8 {
		r.index = make(map[string]int, len(r.keys))
		for j, k := range r.keys {
			r.index[k] = j
		}
	}
	r.seen = make([]int, len(r.keys))
}

func (r *rowKeys) find(key []byte) int {
	if r.index != nil {
		if j, ok := r.index[string(key)]; ok {
			return j
		}
		return -1
	}
	for j, k := range r.keys {
		if k == string(key) {
			return j
		}
	}
	return -1
}

// match reports whether obj, the row-th row, has the first row's keys.
func (r *rowKeys) match(obj []byte, row int) bool {
	found, bad := 0, false
	objectKeys(obj, func(key []byte) {
		switch j := r.find(key); {
		case j < 0:
			bad = true
		case r.seen[j] != row:
			r.seen[j] = row
			found++
		}
	})
	return !bad && found == len(r.keys)
}
