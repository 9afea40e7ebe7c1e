package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pgrest/pgrest/server/config"
)

const limitsFixture = `CREATE TABLE notes (id serial PRIMARY KEY, body text);
GRANT SELECT, INSERT ON notes TO web_anon; GRANT USAGE ON SEQUENCE notes_id_seq TO web_anon;
CREATE FUNCTION nap(s float8) RETURNS int LANGUAGE sql AS 'SELECT 1 FROM pg_sleep(s)';
GRANT EXECUTE ON FUNCTION nap TO web_anon;`

// rawConn speaks HTTP/1.1 by hand, to send what no well-behaved client does.
func rawConn(t *testing.T, p *Pgrest) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(p.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	// A bound on the test itself, far above every configured timeout.
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return c, bufio.NewReader(c)
}

func readResponse(t *testing.T, br *bufio.Reader) (*http.Response, map[string]any) {
	t.Helper()
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	defer res.Body.Close()
	var body map[string]any
	b, _ := io.ReadAll(res.Body)
	json.Unmarshal(b, &body)
	return res, body
}

// The body cap: a Content-Length above it is answered 413 at once (the
// body is never waited for); a chunked body is cut as soon as it passes it;
// a body under it is stored.
func TestRequestBodyLimit(t *testing.T) {
	db := NewDB(t, limitsFixture)
	p := StartPgrest(t, db, func(c *config.Config) { c.MaxBodySize = 1024 })

	c, br := rawConn(t, p)
	io.WriteString(c, "POST /notes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n{\"body\":")
	res, body := readResponse(t, br)
	if res.StatusCode != 413 || body["code"] != "PGRST413" {
		t.Fatalf("announced 1 GiB: %d %v", res.StatusCode, body)
	}

	c2, br2 := rawConn(t, p)
	io.WriteString(c2, "POST /notes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
	chunk := `[` + strings.Repeat(`{"body":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},`, 40)
	io.WriteString(c2, strings.ToUpper(strconvHex(len(chunk)))+"\r\n"+chunk+"\r\n")
	res2, body2 := readResponse(t, br2)
	if res2.StatusCode != 413 || body2["code"] != "PGRST413" {
		t.Fatalf("chunked over the cap: %d %v", res2.StatusCode, body2)
	}
	p.Get("/notes").Expect(t, 200).JSONEq(t, `[]`)

	p.Do("POST", "/notes", `{"body":"fits"}`, "Content-Type: application/json").Expect(t, 201)
	p.Get("/notes?select=body").Expect(t, 200).JSONEq(t, `[{"body":"fits"}]`)
}

func strconvHex(n int) string {
	const digits = "0123456789abcdef"
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 16 {
		b = append([]byte{digits[n%16]}, b...)
	}
	return string(b)
}

// Slow-loris defences: a header that never ends, a body that stalls and an
// idle keep-alive connection are all closed by the server.
func TestConnectionTimeouts(t *testing.T) {
	db := NewDB(t, limitsFixture)
	p := StartPgrest(t, db, func(c *config.Config) {
		c.HeaderTimeout = time.Second
		c.BodyTimeout = time.Second
		c.IdleTimeout = time.Second
	})
	closed := func(c net.Conn) bool {
		_, err := io.ReadAll(c)
		return err == nil // EOF: the server closed it (our own deadline gives an error)
	}

	c, _ := rawConn(t, p)
	io.WriteString(c, "GET /notes HTTP/1.1\r\nHost: x\r\n")
	if !closed(c) {
		t.Error("an unfinished header kept the connection open")
	}

	c2, br2 := rawConn(t, p)
	io.WriteString(c2, "POST /notes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"bo")
	res, body := readResponse(t, br2)
	if res.StatusCode != 408 || body["code"] != "PGRST408" {
		t.Errorf("stalled body: %d %v", res.StatusCode, body)
	}

	c3, br3 := rawConn(t, p)
	io.WriteString(c3, "GET /notes HTTP/1.1\r\nHost: x\r\n\r\n")
	if res, _ := readResponse(t, br3); res.StatusCode != 200 {
		t.Fatalf("keep-alive request: %d", res.StatusCode)
	}
	if !closed(c3) {
		t.Error("an idle keep-alive connection stayed open")
	}
}

// Shutdown waits for in-flight requests only for its grace period, then
// cancels their statements in PostgreSQL and returns.
func TestShutdownCancelsAfterGrace(t *testing.T) {
	db := NewDB(t, limitsFixture)
	p := StartPgrest(t, db, nil)
	got := make(chan int, 1)
	go func() {
		// The connection is dropped when the grace period ends: an error here.
		if res, err := p.Client.Get(p.URL + "/rpc/nap?s=60"); err == nil {
			res.Body.Close()
			got <- res.StatusCode
			return
		}
		got <- 0
	}()
	conn := superConn(t, db)
	waitFor(t, "the statement to start", func() bool { return sleeping(t, conn, db) > 0 })
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := p.App.Shutdown(ctx); err == nil {
		t.Error("Shutdown past its grace period must say so")
	}
	waitFor(t, "the statement to be cancelled", func() bool { return sleeping(t, conn, db) == 0 })
	select {
	case <-got:
	case <-time.After(15 * time.Second):
		t.Error("the in-flight request never ended")
	}
}

// sleeping counts backends of db waiting in pg_sleep.
func sleeping(t *testing.T, conn *pgx.Conn, db string) int {
	var n int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event = 'PgSleep'`, db).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitFor polls cond for up to 15 s (a bound on the test, not a target).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// A client that stops reading a large response is dropped after
// pgrest-write-timeout; one that keeps reading is never cut.
func TestWriteTimeout(t *testing.T) {
	db := NewDB(t, limitsFixture+`
CREATE FUNCTION big() RETURNS SETOF text LANGUAGE sql AS $$ SELECT repeat('x', 1000) FROM generate_series(1, 30000) $$;
GRANT EXECUTE ON FUNCTION big TO web_anon;`)
	p := StartPgrest(t, db, func(c *config.Config) { c.WriteTimeout = 2 * time.Second })
	if r := p.Get("/rpc/big"); r.Status != 200 || len(r.Body) < 30_000_000 {
		t.Fatalf("a reading client: %d, %d bytes", r.Status, len(r.Body))
	}
	c, br := rawConn(t, p)
	io.WriteString(c, "GET /rpc/big HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(5 * time.Second) // stalled past the write timeout
	// A connection the server gave up on ends short; one it still serves
	// delivers all 30 MB well within this bound.
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		return // dropped before the headers arrived
	}
	n, _ := io.Copy(io.Discard, res.Body)
	if n >= 30_000_000 {
		t.Errorf("a stalled client still got the whole %d-byte response", n)
	}
}
