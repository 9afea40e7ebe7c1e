package realtime

import (
	"encoding/json"
	"sync"
	"sync/atomic"

	"github.com/pgrest/pgrest/planner"
	"github.com/pgrest/pgrest/request"
)

// rereadWorkers bounds the re-reads in flight (each holds a pooled
// connection for one short read); batchMax the rows one query re-reads.
const (
	rereadWorkers = 4
	batchMax      = 200
)

// rereads are the rows of one dispatch round, by group and row.
type rereads map[rereadKey]rereadResult

type rereadKey struct{ group, row string }

type rereadResult struct {
	row []byte
	err error
}

// rereadAll re-reads the rows a batch of transactions changed, per group
// of subscribers: in one query when the rendered rows carry their key,
// else one query per row; concurrently, since all run after the commits.
func (h *Hub) rereadAll(ts []*txn, subs []*Subscription) rereads {
	type work struct {
		s       *Subscription
		changes []*change
	}
	groups := map[string]*work{}
	var order []*work
	queued := map[rereadKey]bool{}
	for _, t := range ts {
		for i := range t.Changes {
			c := &t.Changes[i]
			for _, s := range subs {
				k := rereadKey{s.group, c.ident()}
				if s.rel != c.Rel || queued[k] {
					continue
				}
				queued[k] = true
				w := groups[s.group]
				if w == nil {
					w = &work{s: s}
					groups[s.group] = w
					order = append(order, w)
				}
				w.changes = append(w.changes, c)
			}
		}
	}
	var units []func(rereads)
	for _, w := range order {
		if w.s.keyField != "" && len(w.changes) > 1 {
			for lo := 0; lo < len(w.changes); lo += batchMax {
				chunk := w.changes[lo:min(lo+batchMax, len(w.changes))]
				units = append(units, func(out rereads) { h.rereadBatch(w.s, chunk, out) })
			}
			continue
		}
		for _, c := range w.changes {
			units = append(units, func(out rereads) {
				var r rereadResult
				r.row, r.err = h.reread(w.s, c)
				out[rereadKey{w.s.group, c.ident()}] = r
			})
		}
	}
	return runUnits(units)
}

// runUnits runs re-read units concurrently; each fills a map of its own,
// merged at the end.
func runUnits(units []func(rereads)) rereads {
	outs := make([]rereads, len(units))
	var wg sync.WaitGroup
	var next atomic.Int64
	for w := 0; w < min(rereadWorkers, len(units)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(units); i = int(next.Add(1) - 1) {
				outs[i] = rereads{}
				units[i](outs[i])
			}
		}()
	}
	wg.Wait()
	all := rereads{}
	for _, o := range outs {
		for k, v := range o {
			all[k] = v
		}
	}
	return all
}

// rereadBatch re-reads several rows with one query (key=in.(...)) and
// tells them apart by the key field. When a row's key does not read back
// as the WAL's text, the chunk goes the one-by-one way, which never guesses.
func (h *Hub) rereadBatch(s *Subscription, cs []*change, out rereads) {
	vals := make([]string, len(cs))
	for i, c := range cs {
		vals[i] = c.Key[0].Val
	}
	r := *s.req
	r.Filters = append(append([]request.Filter(nil), s.req.Filters...),
		request.Filter{Field: request.Field{Name: cs[0].Key[0].Col}, Op: request.Operation{Op: "in", List: vals}})
	r.Ranges = withoutRootRange(s.req.Ranges)
	body, err := h.run(&r, s, cs[len(cs)-1].Cols)
	rows := map[string]json.RawMessage{}
	ok := err == nil && splitByKey(body, s.keyField, rows)
	for _, c := range cs {
		k := rereadKey{s.group, c.ident()}
		switch {
		case err != nil:
			out[k] = rereadResult{err: err}
		case ok:
			out[k] = rereadResult{row: rows[c.Key[0].Val]}
		default:
			var res rereadResult
			res.row, res.err = h.reread(s, c)
			out[k] = res
		}
	}
}

// splitByKey indexes rendered rows by the text of their key field.
func splitByKey(body []byte, field string, out map[string]json.RawMessage) bool {
	var rows []json.RawMessage
	if json.Unmarshal(body, &rows) != nil {
		return false
	}
	for _, row := range rows {
		var m map[string]json.RawMessage
		if json.Unmarshal(row, &m) != nil {
			return false
		}
		raw, found := m[field]
		if !found {
			return false
		}
		key := string(raw)
		var str string
		if json.Unmarshal(raw, &str) == nil {
			key = str
		}
		if _, dup := out[key]; dup {
			return false
		}
		out[key] = row
	}
	return true
}

// keyField is the field that carries a single-column key in rendered
// rows: the key column selected as itself (or through *), with no spread
// embed or aggregate that could bring a field of the same name, and no
// db-max-rows that could cut a batch short.
func keyField(req *request.Request, opts planner.Options, pk []string) string {
	if len(pk) != 1 || opts.MaxRows != nil {
		return ""
	}
	if len(req.Select) == 0 {
		return pk[0]
	}
	field := ""
	for _, it := range req.Select {
		switch {
		case it.Aggregate != "" || (it.Embed != nil && it.Embed.Spread):
			return ""
		case it.Embed != nil:
		case it.Field.Name == "*" && field == "":
			field = pk[0]
		case it.Field.Name == pk[0] && len(it.Field.Path) == 0 && it.Cast == "":
			field = pk[0]
			if it.Alias != "" {
				field = it.Alias
			}
		}
	}
	return field
}
