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
	sh, err := prepare(req, snap, opts)
	if err != nil {
		return nil, err
	}
	key := string(sh.vals.key)
	if c, ok := m.lru.Get(key); ok {
		m.hits.Add(1)
		p := c.plan
		p.Args = sh.vals.args
		return &p, nil
	}
	m.misses.Add(1)
	p, err := sh.compile()
	if err != nil {
		return nil, err
	}
	p.guard = &guardVariant{}
	m.lru.Add(key, &compiled{plan: *p})
	return p, nil
}

// shaped is a request ready for the memo: its values numbered and its key
// written, with what a call or a write resolved on the way.
type shaped struct {
	req  *request.Request
	snap *cache.Snapshot
	opts Options
	vals *values
	cl   *call
	pw   *preparedWrite
}

func prepare(req *request.Request, snap *cache.Snapshot, opts Options) (*shaped, error) {
	sh := &shaped{req: req, snap: snap, opts: opts}
	var err error
	switch {
	case req.Action == request.ActInvoke:
		if sh.cl, err = resolveCall(req, snap); err != nil {
			return nil, err
		}
	case isWrite(req.Action):
		if sh.pw, err = prepareWrite(req, snap); err != nil {
			return nil, err
		}
	}
	sh.vals = walkShape(req, snap, opts)
	switch {
	case sh.cl != nil:
		sh.vals.call(req, sh.cl)
	case sh.pw != nil:
		sh.vals.write(req, sh.pw)
	}
	return sh, nil
}

// compile builds the plan tree and renders it: a memo miss.
func (sh *shaped) compile() (*Plan, error) {
	var p *Plan
	var err error
	if sh.pw != nil {
		p, err = compileWrite(sh.req, sh.snap, sh.opts, sh.vals, sh.pw)
	} else {
		p, err = compile(sh.req, sh.snap, sh.opts, sh.vals, sh.cl)
	}
	if err != nil {
		return nil, err
	}
	p.Args = sh.vals.args
	return p, nil
}
