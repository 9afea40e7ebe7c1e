package planner

import (
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/pgrest/pgrest/request"
)

// json.Decoder's reflection and buffering cost more than a small write
// body itself. scanRowsFast reads the common case with gjson: a valid body
// (checked first, strictly: request.ValidJSON) that is an object, an array
// of objects or a scalar. For an invalid body, or an array holding a
// non-object, it returns nil, nil, and scanRowsDecoder reports it as
// before.
func scanRowsFast(body []byte, uniform bool, want []string) (*rowsPayload, error) {
	if !request.ValidJSON(body) {
		return nil, nil
	}
	p := &rowsPayload{arg: json.RawMessage(body)}
	var wantAt map[string]int
	if want != nil { // as rowScanner: the last of a repeated name counts
		wantAt = make(map[string]int, len(want))
		for j, c := range want {
			wantAt[c] = j
		}
	}
	switch root := gjson.Parse(string(body)); {
	case root.IsObject():
		p.object, p.n = true, 1
		p.first = firstRow(body, root)
		p.present = presence(p.present, root, wantAt)
		return p, nil
	case root.IsArray():
		return rows(p, body, root, uniform, wantAt)
	}
	p.arg = json.RawMessage("[]") // a scalar: no rows
	return p, nil
}

// rows reads the array of rows root into p; nil, nil when one is not an
// object.
func rows(p *rowsPayload, body []byte, root gjson.Result, uniform bool, wantAt map[string]int) (*rowsPayload, error) {
	var keys rowKeys
	var err error
	ok := true
	root.ForEach(func(_, row gjson.Result) bool {
		switch {
		case !row.IsObject():
			ok = false
		case p.n == 0:
			if p.first = firstRow(body, row); uniform {
				keys.init(p.first)
			}
		case uniform && !keys.match(row, p.n):
			ok, err = false, keysMismatch()
		}
		if ok {
			p.n++
			p.present = presence(p.present, row, wantAt)
		}
		return ok
	})
	if !ok {
		return nil, err
	}
	return p, nil
}

// firstRow is the object obj decoded as encoding/json would into a map:
// keys unescaped with bad UTF-8 as U+FFFD, the last of repeated keys kept,
// values as written (parts of body, which already is the statement's
// parameter).
func firstRow(body []byte, obj gjson.Result) map[string]json.RawMessage {
	m := map[string]json.RawMessage{}
	utf := utf8.ValidString(obj.Raw) // then so is every key: one check for all
	obj.ForEach(func(k, v gjson.Result) bool {
		// A key as written is a part of the copy gjson reads, which the
		// map must not keep alive.
		key := rowKey(k)
		switch {
		case !utf && !utf8.ValidString(key):
			key = badKey(key)
		case strings.IndexByte(k.Raw, '\\') < 0:
			key = strings.Clone(key)
		}
		end := v.Index + len(v.Raw)
		m[key] = body[v.Index:end:end]
		return true
	})
	return m
}

// rowKey is the key k as objectKeys reads it, so that both readers give
// the same answers: as written unless it holds an escape.
func rowKey(k gjson.Result) string {
	if strings.IndexByte(k.Raw, '\\') < 0 {
		return k.Raw[1 : len(k.Raw)-1]
	}
	var s string
	_ = json.Unmarshal([]byte(k.Raw), &s)
	return s
}

// badKey is a key with bytes that are not UTF-8 (and no escape, or
// rowKey would have decoded it), as encoding/json reads it.
func badKey(key string) string {
	var k string
	_ = json.Unmarshal([]byte(`"`+key+`"`), &k)
	return k
}

// presence records which of the wanted columns the row obj has.
func presence(present []bool, obj gjson.Result, wantAt map[string]int) []bool {
	if wantAt == nil {
		return present
	}
	row := len(present)
	present = append(present, make([]bool, len(wantAt))...)
	obj.ForEach(func(k, _ gjson.Result) bool {
		if j, ok := wantAt[rowKey(k)]; ok {
			present[row+j] = true
		}
		return true
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

func (r *rowKeys) find(key string) int {
	if r.index != nil {
		if j, ok := r.index[key]; ok {
			return j
		}
		return -1
	}
	for j, k := range r.keys {
		if k == key {
			return j
		}
	}
	return -1
}

// match reports whether obj, the row-th row, has the first row's keys.
func (r *rowKeys) match(obj gjson.Result, row int) bool {
	found, bad := 0, false
	obj.ForEach(func(k, _ gjson.Result) bool {
		switch j := r.find(rowKey(k)); {
		case j < 0:
			bad = true
		case r.seen[j] != row:
			r.seen[j] = row
			found++
		}
		return true
	})
	return !bad && found == len(r.keys)
}
