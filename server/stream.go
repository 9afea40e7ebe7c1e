package server

import (
	"bufio"
	"errors"
	"net/http"
	"time"

	"github.com/pgrest/pgrest/executor"
	"github.com/pgrest/pgrest/planner"
	"github.com/pgrest/pgrest/request"
	"github.com/pgrest/pgrest/server/config"
)

// Streamed (NDJSON) responses: headers go out with the first row, lines
// as PostgreSQL sends them, and what is known only at the end (the
// Content-Range, with its count) as a trailer.

const (
	// streamBuffer is what is gathered before a write to the connection.
	streamBuffer = 64 << 10
	// streamFlushEvery bounds how long a line waits in the buffer when
	// rows come slowly.
	streamFlushEvery = 200 * time.Millisecond
)

// serveStream runs a streamed plan and sends its lines. An error before
// the first line is an ordinary error response; after it, the response
// is cut short (no terminating chunk), so the client sees it incomplete.
func (a *App) serveStream(w http.ResponseWriter, r *http.Request, cfg *config.Config, req *request.Request, plan *planner.Plan, tc *executor.TxContext, applied string) {
	s := &streamSink{w: w, rc: http.NewResponseController(w), req: req, plan: plan, applied: applied}
	res, err := a.exec.Stream(r.Context(), plan, tc, s)
	var se *executor.StreamError
	if errors.As(err, &se) {
		if r.Context().Err() == nil {
			a.internalError("streamed response cut short", se.Err)
		}
		panic(http.ErrAbortHandler)
	}
	if err != nil {
		a.fail(w, cfg, executor.ToAPIError(err, tc.Authenticated))
		return
	}
	if err := s.end(res); err != nil && r.Context().Err() == nil {
		a.internalError("streamed response cut short", err)
		panic(http.ErrAbortHandler)
	}
}

// streamSink writes the lines of a streamed plan to the response.
type streamSink struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	req     *request.Request
	plan    *planner.Plan
	applied string
	bw      *bufio.Writer
	flushed time.Time
	lines   int
	// noBody: HEAD, or a status without a body.
	noBody bool
}

func (s *streamSink) Start(head *executor.Result) error {
	h := s.w.Header()
	req, p := s.req, s.plan
	status := http.StatusOK
	if req.Action == request.ActRead || req.Action == request.ActInvoke {
		if p.Warning != "" {
			h.Set("Warning", "299 PostgRESTv"+Version+" \""+p.Warning+"\"")
		}
		if req.Action == request.ActRead {
			h.Set("Content-Location", contentLocation(req))
		}
		if p.NoContent {
			status = http.StatusNoContent
		}
	} else {
		status = mutationStatus(req, p, head)
	}
	if s.applied != "" {
		h.Set("Preference-Applied", s.applied)
	}
	status, aerr := applyResponseSettings(s.w, status, head)
	if aerr != nil {
		return aerr
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", p.MediaType)
	}
	s.noBody = req.HeadOnly || status == http.StatusNoContent
	if !s.noBody {
		h.Set("Trailer", "Content-Range")
	}
	s.w.WriteHeader(status)
	s.bw = bufio.NewWriterSize(s.w, streamBuffer)
	s.flushed = time.Now()
	return nil
}

func (s *streamSink) Line(line []byte) error {
	if s.noBody {
		return nil
	}
	if _, err := s.bw.Write(line); err != nil {
		return err
	}
	if err := s.bw.WriteByte('\n'); err != nil {
		return err
	}
	s.lines++
	// The first line goes out at once (time to first byte); later ones
	// when the buffer fills, or, checked every few lines, when they have
	// waited long enough.
	if s.lines == 1 || (s.lines%256 == 0 && time.Since(s.flushed) > streamFlushEvery) {
		return s.flush()
	}
	return nil
}

func (s *streamSink) flush() error {
	if err := s.bw.Flush(); err != nil {
		return err
	}
	s.flushed = time.Now()
	return s.rc.Flush()
}

// end sends the buffered lines and the Content-Range trailer.
func (s *streamSink) end(res *executor.Result) error {
	if s.noBody {
		return nil
	}
	if err := s.bw.Flush(); err != nil {
		return err
	}
	cr := contentRange(s.plan.Offset, res.PageTotal, res.Total)
	if s.req.Action != request.ActRead && s.req.Action != request.ActInvoke {
		cr = mutationRange(s.req, res)
	}
	if cr != "" {
		// net/http refuses a declared Content-Range trailer (RFC 9110 lets
		// a sender forbid it); the prefix form is sent as is.
		s.w.Header().Set(http.TrailerPrefix+"Content-Range", cr)
	}
	return nil
}
