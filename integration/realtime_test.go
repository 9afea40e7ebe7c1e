package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pgrest/pgrest/migrations"
	"github.com/pgrest/pgrest/server/config"
)

const realtimeFixture = `
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE orders (
  id int PRIMARY KEY,
  status text NOT NULL,
  total numeric NOT NULL DEFAULT 0,
  customer_id int REFERENCES customers(id)
);
INSERT INTO customers VALUES (1, 'Ann'), (2, 'Bob');
INSERT INTO orders VALUES (100, 'open', 5, 1);
GRANT SELECT ON customers, orders TO web_anon, test_user, other_user;
`

// realtimeDB makes a database with fixture, the publication `pgrest
// migrate` would create, and a slot name of its own (slots are
// cluster-wide); the slot is dropped when the test ends, after pgrest.
func realtimeDB(t *testing.T, fixture string) (db, slot string) {
	t.Helper()
	return realtimeDBIn(t, fixture, []string{"public"})
}

// realtimeDBIn is realtimeDB with the publication over schemas.
func realtimeDBIn(t *testing.T, fixture string, schemas []string) (db, slot string) {
	t.Helper()
	db = NewDB(t, fixture)
	slot = "rt_" + db
	if len(slot) > 60 {
		slot = slot[:60]
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg.URI("postgres", db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// as `pgrest migrate` does: the DDL event log, then the publication
	if _, err := migrations.Apply(ctx, conn, "pgrst"); err != nil {
		t.Fatal(err)
	}
	if _, err := migrations.Publication(ctx, conn, slot, schemas); err != nil {
		t.Fatal(err)
	}
	SQL(t, db, "ALTER ROLE authenticator REPLICATION")
	t.Cleanup(func() {
		for i := 0; i < 50; i++ {
			err := pg.Exec(context.Background(), "postgres",
				"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '"+slot+"'")
			if err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	return db, slot
}

func startRealtime(t *testing.T, db, slot string, mod func(*config.Config)) *Pgrest {
	return StartPgrest(t, db, func(c *config.Config) {
		c.RealtimeEnabled = true
		c.RealtimeSlotPrefix = slot
		c.RealtimeHeartbeat = 200 * time.Millisecond
		if mod != nil {
			mod(c)
		}
	})
}

type sseEvent struct {
	Kind, ID, Data string
}

// sseStream is a minimal EventSource: it sends events to a channel.
type sseStream struct {
	t      *testing.T
	resp   *http.Response
	events chan sseEvent
	beats  chan struct{}
	cancel context.CancelFunc
}

func subscribe(t *testing.T, p *Pgrest, path string, headers ...string) *sseStream {
	t.Helper()
	s, resp := trySubscribe(t, p, path, headers...)
	if s == nil {
		t.Fatalf("subscribe %s: status %d", path, resp.Status)
	}
	return s
}

// trySubscribe returns the stream, or nil and the (error) response.
func trySubscribe(t *testing.T, p *Pgrest, path string, headers ...string) (*sseStream, *Resp) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", p.URL+path, nil)
	req.Header.Set("Accept", "text/event-stream")
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		defer cancel()
		defer resp.Body.Close()
		var b strings.Builder
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			b.WriteString(sc.Text())
		}
		return nil, &Resp{Status: resp.StatusCode, Header: resp.Header, Body: []byte(b.String())}
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	s := &sseStream{t: t, resp: resp, events: make(chan sseEvent, 1000), beats: make(chan struct{}, 1000), cancel: cancel}
	go s.read()
	t.Cleanup(s.close)
	return s, nil
}

func (s *sseStream) close() { s.cancel(); s.resp.Body.Close() }

func (s *sseStream) read() {
	defer close(s.events)
	sc := bufio.NewScanner(s.resp.Body)
	sc.Buffer(make([]byte, 1<<20), 8<<20)
	var ev sseEvent
	var data []string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev.Kind != "" || len(data) > 0 {
				ev.Data = strings.Join(data, "\n")
				s.events <- ev
			}
			ev, data = sseEvent{}, nil
		case strings.HasPrefix(line, ":"):
			select {
			case s.beats <- struct{}{}:
			default:
			}
		case strings.HasPrefix(line, "event: "):
			ev.Kind = line[7:]
		case strings.HasPrefix(line, "id: "):
			ev.ID = line[4:]
		case strings.HasPrefix(line, "data: "):
			data = append(data, line[6:])
		}
	}
}

// next waits for the next event.
func (s *sseStream) next() sseEvent {
	s.t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			s.t.Fatal("stream ended")
		}
		return ev
	case <-time.After(15 * time.Second):
		s.t.Fatal("no event within 15s")
	}
	return sseEvent{}
}

// expect waits for the next event and checks its kind and data (as JSON).
func (s *sseStream) expect(kind, data string) sseEvent {
	s.t.Helper()
	ev := s.next()
	if ev.Kind != kind || !jsonEqual(ev.Data, data) {
		s.t.Fatalf("event %s %s, want %s %s", ev.Kind, ev.Data, kind, data)
	}
	if kind != "reset" && kind != "error" && ev.ID == "" {
		s.t.Fatalf("event %s has no id", kind)
	}
	return ev
}

// quiet checks that no event arrives for a moment.
func (s *sseStream) quiet(d time.Duration) {
	s.t.Helper()
	select {
	case ev := <-s.events:
		s.t.Fatalf("unexpected event %s %s", ev.Kind, ev.Data)
	case <-time.After(d):
	}
}

func jsonEqual(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return a == b
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return string(xb) == string(yb)
}

func TestRealtimeChangesEnterAndLeaveTheFilter(t *testing.T) {
	db, slot := realtimeDB(t, realtimeFixture)
	p := startRealtime(t, db, slot, nil)
	s := subscribe(t, p, "/orders?select=id,state:status,total::text,customer:customers(name)&status=eq.open")

	SQL(t, db, "INSERT INTO orders VALUES (1, 'open', 10, 1)")
	s.expect("insert", `{"id":1,"state":"open","total":"10","customer":{"name":"Ann"}}`)
	// A row present when the stream opened changes: update, not insert.
	SQL(t, db, "UPDATE orders SET total = 7 WHERE id = 100")
	s.expect("update", `{"id":100,"state":"open","total":"7","customer":{"name":"Ann"}}`)
	SQL(t, db, "INSERT INTO orders VALUES (2, 'closed', 1, 2)")
	// Rows are re-read when their transaction is dispatched: let this one
	// be judged before the next change.
	s.quiet(300 * time.Millisecond)
	// enters the filtered set
	SQL(t, db, "UPDATE orders SET status = 'open' WHERE id = 2")
	s.expect("insert", `{"id":2,"state":"open","total":"1","customer":{"name":"Bob"}}`)
	// embeds are rendered as they are now
	SQL(t, db, "UPDATE customers SET name = 'Robert' WHERE id = 2; UPDATE orders SET total = 3 WHERE id = 2")
	s.expect("update", `{"id":2,"state":"open","total":"3","customer":{"name":"Robert"}}`)
	// leaves the filtered set
	SQL(t, db, "UPDATE orders SET status = 'shipped' WHERE id = 1")
	s.expect("delete", `{"id":1}`)
	SQL(t, db, "UPDATE orders SET total = 99 WHERE id = 1") // outside the set: nothing
	s.quiet(300 * time.Millisecond)
	SQL(t, db, "DELETE FROM orders WHERE id = 2")
	s.expect("delete", `{"id":2}`)
	// A key change is the old key leaving and the new one arriving.
	SQL(t, db, "UPDATE orders SET id = 101 WHERE id = 100")
	s.expect("delete", `{"id":100}`)
	s.expect("insert", `{"id":101,"state":"open","total":"7","customer":{"name":"Ann"}}`)
	s.quiet(300 * time.Millisecond)
	// Several rows of one transaction are re-read in one query (the key
	// is rendered as "id") and still told apart.
	SQL(t, db, "INSERT INTO orders VALUES (3, 'open', 1, 1), (4, 'closed', 1, 1), (5, 'open', 2, 2)")
	s.expect("insert", `{"id":3,"state":"open","total":"1","customer":{"name":"Ann"}}`)
	s.expect("insert", `{"id":5,"state":"open","total":"2","customer":{"name":"Robert"}}`)

	select {
	case <-s.beats:
	case <-time.After(3 * time.Second):
		t.Fatal("no heartbeat")
	}
	if st := p.App.RealtimeStats(); st.Subscriptions != 1 || st.EventsSent < 7 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRealtimeAuthorizationIsTheSubscribers(t *testing.T) {
	db, slot := realtimeDB(t, `
CREATE TABLE notes (id int PRIMARY KEY, owner text NOT NULL, body text, secret text);
ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON notes USING (owner = current_setting('request.jwt.claims', true)::json->>'sub');
GRANT SELECT (id, owner, body) ON notes TO test_user;
`)
	p := startRealtime(t, db, slot, nil)
	tok := func(sub string) string {
		return "Authorization: Bearer " + token(t, map[string]any{"role": "test_user", "sub": sub, "exp": time.Now().Add(time.Hour).Unix()})
	}
	ann := subscribe(t, p, "/notes?select=id,body", tok("ann"))
	bob := subscribe(t, p, "/notes?select=id,body", tok("bob"))

	// A column the role may not read: refused before the stream opens.
	if s, r := trySubscribe(t, p, "/notes?select=id,secret", tok("ann")); s != nil || r.Status != 403 {
		t.Fatalf("secret column: want 403, got stream=%v", s != nil)
	}
	// Anonymous has no grant at all.
	if s, r := trySubscribe(t, p, "/notes"); s != nil || r.Status != 401 {
		t.Fatal("anonymous: want 401")
	}

	SQL(t, db, "INSERT INTO notes VALUES (1, 'ann', 'a1', 's'), (2, 'bob', 'b1', 's')")
	ann.expect("insert", `{"id":1,"body":"a1"}`)
	bob.expect("insert", `{"id":2,"body":"b1"}`)
	// The row moves to bob: ann loses it, bob gains it.
	SQL(t, db, "UPDATE notes SET owner = 'bob' WHERE id = 1")
	ann.expect("delete", `{"id":1}`)
	bob.expect("insert", `{"id":1,"body":"a1"}`)
	ann.quiet(300 * time.Millisecond)
	bob.quiet(100 * time.Millisecond)
}

func TestRealtimeResumeAcrossRestart(t *testing.T) {
	db, slot := realtimeDB(t, realtimeFixture)
	mod := func(c *config.Config) { c.RealtimeRetention = time.Minute }
	p := startRealtime(t, db, slot, mod)
	s := subscribe(t, p, "/orders?select=id,status")
	SQL(t, db, "INSERT INTO orders VALUES (1, 'open', 1, 1)")
	last := s.expect("insert", `{"id":1,"status":"open"}`)
	s.close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	p.App.Shutdown(ctx)
	cancel()

	// While no pgrest runs, the slot keeps the changes.
	SQL(t, db, "INSERT INTO orders VALUES (2, 'open', 2, 2); UPDATE orders SET status = 'paid' WHERE id = 1")
	SQL(t, db, "DELETE FROM orders WHERE id = 100")

	p2 := startRealtime(t, db, slot, mod)
	r := subscribe(t, p2, "/orders?select=id,status", "Last-Event-ID: "+last.ID)
	r.expect("insert", `{"id":2,"status":"open"}`)
	r.expect("update", `{"id":1,"status":"paid"}`)
	r.expect("delete", `{"id":100}`)
	// and live changes follow
	SQL(t, db, "UPDATE orders SET status = 'open' WHERE id = 1")
	r.expect("update", `{"id":1,"status":"open"}`)

	// An id from before the retained window: reset.
	old := subscribe(t, p2, "/orders?select=id", "Last-Event-ID: 0/10:0")
	old.expect("reset", `{"reason":"the changes after this event id are no longer retained"}`)
	// A malformed id is the client's mistake.
	if s, resp := trySubscribe(t, p2, "/orders", "Last-Event-ID: nonsense"); s != nil || resp.Status != 400 {
		t.Fatal("malformed Last-Event-ID: want 400")
	}
}

func TestRealtimeJWTExpiryEndsTheStream(t *testing.T) {
	db, slot := realtimeDB(t, realtimeFixture)
	p := startRealtime(t, db, slot, nil)
	tok := token(t, map[string]any{"role": "test_user", "exp": time.Now().Add(2 * time.Second).Unix()})
	s := subscribe(t, p, "/orders?select=id", "Authorization: Bearer "+tok)
	ev := s.next()
	if ev.Kind != "error" || !strings.Contains(ev.Data, "PGRST303") {
		t.Fatalf("want an error event for the expired JWT, got %+v", ev)
	}
	if _, ok := <-s.events; ok {
		t.Fatal("the stream should end after the error")
	}
}

func TestRealtimeSlowConsumerIsDropped(t *testing.T) {
	db, slot := realtimeDB(t, realtimeFixture+`CREATE TABLE blobs (id int PRIMARY KEY, b text); GRANT SELECT ON blobs TO web_anon;`)
	p := startRealtime(t, db, slot, func(c *config.Config) { c.RealtimeBuffer = 4 })
	// The fast one's filter keeps it within its buffer whatever the timing.
	fast := subscribe(t, p, "/blobs?select=id&id=lte.3")
	// The slow one never reads: its connection fills, then its buffer.
	slow, err := net.Dial("tcp", strings.TrimPrefix(p.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	if _, err := slow.Write([]byte("GET /blobs HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	for p.App.RealtimeStats().Subscriptions < 2 {
		time.Sleep(20 * time.Millisecond)
	}
	for i := 1; i <= 40; i++ {
		SQL(t, db, "INSERT INTO blobs SELECT "+itoa(i)+", repeat('x', 1000000)")
	}
	for i := 1; i <= 3; i++ {
		fast.expect("insert", `{"id":`+itoa(i)+`}`)
	}
	deadline := time.Now().Add(10 * time.Second)
	for p.App.RealtimeStats().Dropped == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the slow subscriber was not dropped")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st := p.App.RealtimeStats(); st.Subscriptions != 1 {
		t.Fatalf("stats %+v", st)
	}
	// the others go on
	SQL(t, db, "UPDATE blobs SET b = 'y' WHERE id = 2")
	fast.expect("update", `{"id":2}`)
}

func TestRealtimeFollowsDDL(t *testing.T) {
	db, slot := realtimeDB(t, realtimeFixture)
	p := startRealtime(t, db, slot, nil)
	s := subscribe(t, p, "/customers")
	SQL(t, db, "INSERT INTO customers VALUES (3, 'Cy')")
	s.expect("insert", `{"id":3,"name":"Cy"}`)
	SQL(t, db, "ALTER TABLE customers ADD COLUMN city text DEFAULT 'Oslo'")
	SQL(t, db, "INSERT INTO customers VALUES (4, 'Di', 'Rome')")
	s.expect("insert", `{"id":4,"name":"Di","city":"Rome"}`)
	SQL(t, db, "UPDATE customers SET name = 'Cyd' WHERE id = 3")
	s.expect("update", `{"id":3,"name":"Cyd","city":"Oslo"}`)
	// TRUNCATE removes every row at once: a reset, and rows come back as inserts.
	SQL(t, db, "TRUNCATE orders; TRUNCATE customers CASCADE")
	s.expect("reset", `{"reason":"the table was truncated"}`)
	SQL(t, db, "INSERT INTO customers VALUES (3, 'Cy', 'Oslo')")
	s.expect("insert", `{"id":3,"name":"Cy","city":"Oslo"}`)
}

func TestRealtimeWithoutPublicationIs503(t *testing.T) {
	db := NewDB(t, realtimeFixture)
	SQL(t, db, "ALTER ROLE authenticator REPLICATION")
	p := StartPgrest(t, db, func(c *config.Config) { c.RealtimeEnabled = true; c.RealtimeSlotPrefix = "rt_none_" + db })
	_, r := trySubscribe(t, p, "/orders")
	m := r.ExpectError(t, 503, "PGRST901")
	if !strings.Contains(m["message"].(string), "publication") {
		t.Fatalf("message should name the publication: %v", m)
	}
	// everything else keeps working
	p.Get("/orders?select=id").Expect(t, 200).JSONEq(t, `[{"id":100}]`)
	// only tables with a primary key can be followed
	SQL(t, db, "CREATE VIEW open_orders AS SELECT * FROM orders WHERE status = 'open'; GRANT SELECT ON open_orders TO web_anon; NOTIFY pgrst, 'reload schema'")
	for i := 0; i < 50 && p.Get("/open_orders").Status != 200; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	_, r = trySubscribe(t, p, "/open_orders")
	r.ExpectError(t, 400, "PGRST904")
	// and a request's own errors are the read's
	_, r = trySubscribe(t, p, "/orders?select=nope")
	r.ExpectError(t, 400, "42703")
	// disabled (the default): the media type is not offered, as in PostgREST
	p2 := StartPgrest(t, db, nil)
	_, r = trySubscribe(t, p2, "/orders")
	r.ExpectError(t, 406, "PGRST107")
}

// A browser-grade client: the npm eventsource package (pinned in
// integration/clients/realtime/package-lock.json), run by node.
func TestRealtimeEventSourceClient(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed")
	}
	dir := filepath.Join("clients", "realtime")
	if out, err := exec.Command("npm", "ci", "--prefix", dir, "--no-audit", "--no-fund").CombinedOutput(); err != nil {
		t.Skipf("npm ci (needs the npm registry): %v\n%s", err, out)
	}
	db, slot := realtimeDB(t, realtimeFixture)
	p := startRealtime(t, db, slot, nil)
	tok := token(t, map[string]any{"role": "test_user", "exp": time.Now().Add(time.Hour).Unix()})
	cmd := exec.Command("node", filepath.Join(dir, "client.js"), p.URL+"/orders?select=id,status&status=eq.open", "2", tok)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := bufio.NewScanner(out)
	type msg struct{ Type, ID, Data string }
	read := func() msg {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("client ended: %v", lines.Err())
		}
		var m msg
		if err := json.Unmarshal(lines.Bytes(), &m); err != nil {
			t.Fatalf("client printed %q", lines.Text())
		}
		return m
	}
	if m := read(); m.Type != "open" {
		t.Fatalf("first message %+v", m)
	}
	SQL(t, db, "INSERT INTO orders VALUES (7, 'open', 1, 1)")
	SQL(t, db, "UPDATE orders SET status = 'closed' WHERE id = 100")
	for _, want := range []msg{{"insert", "", `{"id":7,"status":"open"}`}, {"delete", "", `{"id":100}`}} {
		m := read()
		if m.Type != want.Type || !jsonEqual(m.Data, want.Data) || m.ID == "" {
			t.Fatalf("got %+v, want %+v", m, want)
		}
	}
}

// The slot never holds WAL much past the retention window: a streaming
// pgrest confirms behind it, and a slot nobody streams is moved to the
// present after one retention period. /metrics shows the stream.
func TestRealtimeSlotFollowsRetention(t *testing.T) {
	db, slot := realtimeDB(t, realtimeFixture)
	mod := func(c *config.Config) { c.RealtimeRetention = time.Second }
	p := startRealtime(t, db, slot, mod)
	s := subscribe(t, p, "/orders?select=id")
	SQL(t, db, "INSERT INTO orders VALUES (1, 'open', 1, 1)")
	s.expect("insert", `{"id":1}`)
	waitSlotPast(t, db, slot, walNow(t, db))
	_, body := adminGet(t, adminURL(t, p), "/metrics")
	for _, want := range []string{"pgrest_realtime_subscriptions 1", "pgrest_realtime_events_sent_total 1", "pgrest_realtime_replication_lag_bytes", "pgrest_realtime_dropped_subscribers_total 0"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	s.close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	p.App.Shutdown(ctx)
	cancel()

	SQL(t, db, "INSERT INTO orders VALUES (2, 'open', 1, 1)")
	pos := walNow(t, db)
	startRealtime(t, db, slot, mod) // no subscriber
	waitSlotPast(t, db, slot, pos)
}

func walNow(t *testing.T, db string) string {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), pg.URI("postgres", db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var lsn string
	if err := conn.QueryRow(context.Background(), "SELECT pg_current_wal_lsn()::text").Scan(&lsn); err != nil {
		t.Fatal(err)
	}
	return lsn
}

func waitSlotPast(t *testing.T, db, slot, lsn string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), pg.URI("postgres", db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var past bool
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		err := conn.QueryRow(context.Background(), "SELECT confirmed_flush_lsn >= $2::pg_lsn FROM pg_replication_slots WHERE slot_name = $1", slot, lsn).Scan(&past)
		if err == nil && past {
			return
		}
	}
	t.Fatalf("slot %s did not move past %s", slot, lsn)
}
