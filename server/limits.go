package server

import (
	"context"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/pgrest/pgrest/apierr"
	"github.com/pgrest/pgrest/server/config"
)

// Limits that keep one client from holding memory or connections: the body
// size cap and progress deadlines. Deadlines are per read and per write
// (progress), not per request, so a large upload or a long response on a
// working link is never cut, while a stalled (slow-loris) peer is.

// limitRequests applies pgrest-max-body-size and the body/write progress
// deadlines of the current configuration.
func (a *App) limitRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, rt := a.withDerived(r)
		cfg := rt.cfg
		rc := http.NewResponseController(w)
		if max := cfg.MaxBodySize; max > 0 && r.Body != nil && r.Body != http.NoBody {
			if r.ContentLength > max {
				// Closing tells the client to stop sending: the body is never read.
				w.Header().Set("Connection", "close")
				writeError(w, apierr.BodyTooLarge(max))
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, max)
		}
		if d := cfg.BodyTimeout; d > 0 && r.Body != nil && r.Body != http.NoBody {
			r.Body = &progressReader{ReadCloser: r.Body, rc: rc, d: d}
		}
		if d := cfg.WriteTimeout; d > 0 {
			w = &progressWriter{ResponseWriter: w, rc: rc, d: d}
		}
		next.ServeHTTP(w, r)
	})
}

// progressReader moves the read deadline forward before every read.
type progressReader struct {
	io.ReadCloser
	rc *http.ResponseController
	d  time.Duration
}

func (p *progressReader) Read(b []byte) (int, error) {
	_ = p.rc.SetReadDeadline(time.Now().Add(p.d)) // unsupported writers (tests) keep no deadline
	return p.ReadCloser.Read(b)
}

// progressWriter moves the write deadline forward before every write.
type progressWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
	d  time.Duration
}

func (p *progressWriter) Write(b []byte) (int, error) {
	// A body is often written in one call; cut it so that the deadline
	// measures progress, not the time the whole body takes.
	const chunk = 64 << 10
	written := 0
	for len(b) > 0 {
		n := min(len(b), chunk)
		_ = p.rc.SetWriteDeadline(time.Now().Add(p.d))
		m, err := p.ResponseWriter.Write(b[:n])
		written += m
		if err != nil {
			return written, err
		}
		b = b[n:]
	}
	return written, nil
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (p *progressWriter) Unwrap() http.ResponseWriter { return p.ResponseWriter }

// newHTTPServer is the API and admin servers' common setup: header and
// idle timeouts, and a base context that Shutdown cancels after its grace
// period so in-flight statements are cancelled in PostgreSQL too.
func newHTTPServer(h http.Handler, cfg *config.Config, base context.Context) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: cfg.HeaderTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		BaseContext:       func(net.Listener) context.Context { return base },
	}
}
