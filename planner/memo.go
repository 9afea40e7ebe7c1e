package planner

import (
	"sync/atomic"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/pgrest/pgrest/cache"
	"github.com/pgrest/pgrest/request"
)

// compiled is what the memo keeps per request shape: the SQL and plan
// metadata; the args come from each request's shape walk (shape.go).
type compiled struct {
	plan Plan
}

// Memo compiles plans and memoizes them by request shape.
type Memo struct {
	lru          *lru.Cache[string, *compiled]
	hits, misses atomic.Int64
}

// New makes a memo of size entries (a minimum of 16).
func New(size int) *Memo {
	if size < 16 {
		size = 16
	}
	c, _ := lru.New[string, *compiled](size)
	return &Memo{lru: c}
}

// Hits counts requests answered from the memo.
func (m *Memo) Hits() int64 { return m.hits.Load() }

// Misses counts requests that were compiled.
func (m *Memo) Misses() int64 { return m.misses.Load() }

// Plan returns the plan for req against snap, compiling only for a shape
// not seen with this snapshot version. Reads, writes and calls go through
// one path: what must run on every request (a call's overload, a write's
// payload and its checks) runs first, then the shape walk numbers the
// values and writes the key in one pass (shape.go).
func (m *Memo) Plan(req *request.Request, snap *cache.Snapshot, opts Options) (*Plan, error) {
	var cl *call
	var pw *preparedWrite
	var err error
	switch {
	case req.Action == request.ActInvoke:
		if cl, err = resolveCall(req, snap); err != nil {
			return nil, err
		}
	case isWrite(req.Action):
		if pw, err = prepareWrite(req, snap); err != nil {
			return nil, err
		}
	}
	vals := walkShape(req, snap, opts)
	switch {
	case cl != nil:
		vals.call(req, cl)
	case pw != nil:
		vals.write(req, pw)
	}
	key := string(vals.key)
	if c, ok := m.lru.Get(key); ok {
		m.hits.Add(1)
		p := c.plan
		p.Args = vals.args
		return &p, nil
	}
	m.misses.Add(1)
	var p *Plan
	if pw != nil {
		p, err = compileWrite(req, snap, opts, vals, pw)
	} else {
		p, err = compile(req, snap, opts, vals, cl)
	}
	if err != nil {
		return nil, err
	}
	p.Args = vals.args
	m.lru.Add(key, &compiled{plan: *p})
	return p, nil
}
