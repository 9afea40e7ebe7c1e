package server

import (
	"bytes"
	"net"
)

// relativeTargets mends request lines whose target lacks the leading slash
// ("GET items?id=eq.1 HTTP/1.1"): PostgREST's server reads them as
// "/items", Go's answers 400. The first request of each connection is
// mended (where a client would send such a line); later requests on a
// kept-alive connection pass as they are.
type relativeTargets struct{ net.Listener }

func (l relativeTargets) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &targetConn{Conn: c}, nil
}

type targetConn struct {
	net.Conn
	checked bool
	pending []byte // bytes moved past the caller's buffer by the mend
}

func (c *targetConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	n, err := c.Conn.Read(p)
	if c.checked || n == 0 {
		return n, err
	}
	c.checked = true
	at := targetStart(p[:n])
	if at < 0 {
		return n, err
	}
	mended := make([]byte, 0, n+1)
	mended = append(append(append(mended, p[:at]...), '/'), p[at:n]...)
	k := copy(p, mended)
	c.pending = mended[k:]
	return k, err
}

// targetStart is the offset of a request target that needs a leading
// slash in the start of a request line, -1 when there is none to mend.
func targetStart(b []byte) int {
	sp := bytes.IndexByte(b, ' ')
	if sp <= 0 || sp+1 >= len(b) {
		return -1
	}
	for _, ch := range b[:sp] {
		if ch < 'A' || ch > 'Z' {
			return -1
		}
	}
	if string(b[:sp]) == "CONNECT" { // its target is host:port
		return -1
	}
	rest := b[sp+1:]
	switch {
	case rest[0] == '/' || rest[0] == '*' || rest[0] == ' ':
		return -1
	case bytes.HasPrefix(rest, []byte("http://")) || bytes.HasPrefix(rest, []byte("https://")):
		return -1
	}
	return sp + 1
}
