package integration

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pgrest/pgrest/cache"
	"github.com/pgrest/pgrest/server/config"
)

// The role setup PostgREST recommends: the authenticator logs in, inherits
// nothing and has no USAGE on the exposed schema; only web_anon, which it
// switches to, can use it. Schema introspection must work from catalogs
// alone.
const recommendedRolesFixture = `
CREATE SCHEMA api;
CREATE SCHEMA private;
GRANT USAGE ON SCHEMA api TO web_anon;
ALTER DEFAULT PRIVILEGES IN SCHEMA api GRANT SELECT ON TABLES TO web_anon;
CREATE TABLE api.shelf (id int PRIMARY KEY, label text);
CREATE TABLE api.jar (id int PRIMARY KEY, shelf_id int, content text);
CREATE TABLE private.cellar (id int PRIMARY KEY, note text);
INSERT INTO api.shelf VALUES (1, 'top'), (2, 'low');
INSERT INTO api.jar VALUES (10, 1, 'jam'), (11, 1, 'honey');
INSERT INTO private.cellar VALUES (5, 'cold');
`

// adminURL serves p's admin endpoints on a free port.
func adminURL(t *testing.T, p *Pgrest) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.App.ServeAdmin(l); err != nil {
		t.Fatal(err)
	}
	return "http://" + l.Addr().String()
}

func adminGet(t *testing.T, admin, path string) (int, string) {
	t.Helper()
	res, err := http.Get(admin + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// authConn connects to db as the authenticator, as pgrest does.
func authConn(t *testing.T, db string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), pg.URI("authenticator", db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// staleStep is one DDL statement and what the API must answer after it.
type staleStep struct {
	ddl   string
	path  string // GET through the API
	want  int
	body  string // JSON, "" to skip
	inDoc string // a string the OpenAPI document must hold, "" to skip
	notIn string // a string it must not hold
	kind  string // how the snapshot must have been made, "" for either
}

// Every kind of DDL the event log records, in the recommended role setup:
// after each statement the served snapshot is the event log's newest
// version, equals a full load, and the API and the OpenAPI document equal
// those of an instance that loaded fully.
func TestSchemaEventsRecommendedRoles(t *testing.T) {
	db := NewDB(t, recommendedRolesFixture)
	migrate(t, db)
	var usage bool
	if err := authConn(t, db).QueryRow(context.Background(),
		"SELECT has_schema_privilege('authenticator', 'api', 'USAGE')").Scan(&usage); err != nil || usage {
		t.Fatalf("the fixture must leave the authenticator without USAGE on api (usage %v, err %v)", usage, err)
	}
	mod := func(c *config.Config) {
		c.DBSchemas = []string{"api"}
		c.SchemaWaitTimeout = 10 * time.Second
	}
	p := StartPgrest(t, db, mod)
	// The oracle: the same configuration, no listener, loaded fully on demand.
	ref := StartPgrest(t, db, func(c *config.Config) { mod(c); c.DBChannelEnabled = false })
	admin := adminURL(t, p)

	steps := []staleStep{
		{ddl: `ALTER TABLE api.shelf ADD COLUMN color text DEFAULT 'red'`, path: "/shelf?select=id,color&id=eq.1",
			want: 200, body: `[{"id":1,"color":"red"}]`, inDoc: `"color"`, kind: "incremental"},
		{ddl: `ALTER TABLE api.shelf RENAME COLUMN color TO colour`, path: "/shelf?select=colour&id=eq.1",
			want: 200, body: `[{"colour":"red"}]`, inDoc: `"colour"`, notIn: `"color"`, kind: "incremental"},
		{ddl: `ALTER TABLE api.shelf ALTER COLUMN colour SET NOT NULL, ALTER COLUMN colour TYPE varchar(20)`,
			path: "/shelf?select=colour&id=eq.2", want: 200, body: `[{"colour":"red"}]`, inDoc: `"maxLength":20`, kind: "incremental"},
		{ddl: `ALTER TABLE api.shelf DROP COLUMN colour`, path: "/shelf?select=colour", want: 400,
			notIn: `"colour"`, kind: "incremental"},
		{ddl: `CREATE TABLE api.lid (id int PRIMARY KEY, size int)`, path: "/lid", want: 200, body: `[]`, inDoc: `"/lid"`},
		{ddl: `ALTER TABLE api.lid RENAME TO cap`, path: "/cap", want: 200, inDoc: `"/cap"`, notIn: `"/lid"`},
		{ddl: `DROP TABLE api.cap`, path: "/cap", want: 404, notIn: `"/cap"`},
		{ddl: `ALTER TABLE api.jar ADD CONSTRAINT jar_shelf FOREIGN KEY (shelf_id) REFERENCES api.shelf (id)`,
			path: "/shelf?select=id,jar(id)&id=eq.1", want: 200, body: `[{"id":1,"jar":[{"id":10},{"id":11}]}]`},
		{ddl: `CREATE UNIQUE INDEX jar_content ON api.jar (content)`, path: "/jar?select=id&content=eq.jam", want: 200},
		{ddl: `ALTER INDEX api.jar_content RENAME TO jar_content_key`, path: "/jar?select=id", want: 200},
		{ddl: `DROP INDEX api.jar_content_key`, path: "/jar?select=id", want: 200},
		{ddl: `ALTER TABLE api.jar RENAME CONSTRAINT jar_shelf TO jar_on_shelf`,
			path: "/shelf?select=id,jar!jar_on_shelf(id)&id=eq.2", want: 200, body: `[{"id":2,"jar":[]}]`},
		{ddl: `ALTER TABLE api.jar DROP CONSTRAINT jar_on_shelf`, path: "/shelf?select=id,jar(id)", want: 400},
		{ddl: `ALTER TABLE api.jar ADD FOREIGN KEY (shelf_id) REFERENCES api.shelf (id)`,
			path: "/jar?select=id,shelf(label)&id=eq.10", want: 200, body: `[{"id":10,"shelf":{"label":"top"}}]`},
		{ddl: `CREATE VIEW api.full_jars AS SELECT id, shelf_id, content FROM api.jar WHERE content IS NOT NULL`,
			path: "/full_jars?select=id,shelf(label)&id=eq.11", want: 200, body: `[{"id":11,"shelf":{"label":"top"}}]`, inDoc: `"/full_jars"`},
		{ddl: `CREATE OR REPLACE VIEW api.full_jars AS SELECT id, shelf_id, content, upper(content) AS loud FROM api.jar`,
			path: "/full_jars?select=loud&id=eq.10", want: 200, body: `[{"loud":"JAM"}]`, inDoc: `"loud"`},
		{ddl: `ALTER VIEW api.full_jars RENAME COLUMN loud TO shout`, path: "/full_jars?select=shout&id=eq.10",
			want: 200, body: `[{"shout":"JAM"}]`, notIn: `"loud"`, kind: "incremental"},
		{ddl: `ALTER VIEW api.full_jars RENAME TO jars_view`, path: "/jars_view?select=id&id=eq.10", want: 200,
			body: `[{"id":10}]`, notIn: `"/full_jars"`},
		{ddl: `DROP VIEW api.jars_view`, path: "/jars_view", want: 404, notIn: `"/jars_view"`},
		{ddl: `CREATE FUNCTION api.double(n int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT n * 2'`,
			path: "/rpc/double?n=4", want: 200, body: `8`, inDoc: `"/rpc/double"`},
		{ddl: `CREATE FUNCTION api.double(n int, m int DEFAULT 2) RETURNS int LANGUAGE sql AS 'SELECT n * m'; DROP FUNCTION api.double(int)`,
			path: "/rpc/double?n=4&m=3", want: 200, body: `12`},
		{ddl: `ALTER FUNCTION api.double(int, int) RENAME TO times`, path: "/rpc/times?n=4", want: 200, body: `8`,
			inDoc: `"/rpc/times"`, notIn: `"/rpc/double"`},
		{ddl: `CREATE FUNCTION api.jar_shelf_label(api.jar) RETURNS text LANGUAGE sql STABLE AS 'SELECT label FROM api.shelf WHERE id = $1.shelf_id'`,
			path: "/jar?select=id,jar_shelf_label&id=eq.10", want: 200, body: `[{"id":10,"jar_shelf_label":"top"}]`},
		{ddl: `COMMENT ON FUNCTION api.times(int, int) IS 'Multiplies'`, path: "/rpc/times?n=2", want: 200, body: `4`,
			inDoc: `Multiplies`},
		{ddl: `DROP FUNCTION api.times(int, int)`, path: "/rpc/times?n=1", want: 404, notIn: `"/rpc/times"`},
		{ddl: `COMMENT ON TABLE api.shelf IS 'Where jars stand'`, path: "/shelf?select=id&id=eq.1", want: 200,
			inDoc: `Where jars stand`},
		{ddl: `COMMENT ON COLUMN api.shelf.label IS 'What the shelf says'`, path: "/shelf?select=id&id=eq.1", want: 200,
			inDoc: `What the shelf says`},
		{ddl: `COMMENT ON FUNCTION api.jar_shelf_label(api.jar) IS 'The label of the shelf'`, path: "/jar?select=id&id=eq.10",
			want: 200},
		{ddl: `COMMENT ON SCHEMA api IS 'Pantry API'`, path: "/shelf?select=id&id=eq.1", want: 200, inDoc: `Pantry API`},
		{ddl: `REVOKE SELECT ON api.jar FROM web_anon`, path: "/jar", want: 401, kind: "incremental"},
		{ddl: `GRANT SELECT, INSERT ON api.jar TO web_anon`, path: "/jar?select=id&id=eq.10", want: 200, body: `[{"id":10}]`,
			kind: "incremental"},
		{ddl: `ALTER TABLE private.cellar SET SCHEMA api`, path: "/cellar", want: 401, notIn: `"/cellar"`},
		{ddl: `GRANT SELECT ON api.cellar TO web_anon`, path: "/cellar", want: 200, body: `[{"id":5,"note":"cold"}]`, inDoc: `"/cellar"`},
		{ddl: `CREATE SCHEMA attic; CREATE TABLE attic.box (id int)`, path: "/box", want: 404},
		{ddl: `ALTER SCHEMA attic RENAME TO loft`, path: "/shelf?select=id&id=eq.1", want: 200},
		{ddl: `DROP SCHEMA loft CASCADE`, path: "/shelf?select=id&id=eq.1", want: 200},
		{ddl: `ALTER TABLE api.cellar SET SCHEMA private`, path: "/cellar", want: 404, notIn: `"/cellar"`},
		{ddl: `ALTER TABLE private.cellar SET SCHEMA api`, path: "/cellar", want: 200, inDoc: `"/cellar"`},
		{ddl: `DROP TABLE api.cellar`, path: "/cellar", want: 404, notIn: `"/cellar"`},
		{ddl: `CREATE TABLE api."Odd Name" (id int PRIMARY KEY); GRANT SELECT ON api."Odd Name" TO web_anon`,
			path: "/Odd%20Name", want: 200, body: `[]`},
		{ddl: `ALTER TABLE api."Odd Name" ADD COLUMN "Col.""Q" int`, path: "/Odd%20Name?select=id", want: 200,
			inDoc: `"Col.\"Q"`, kind: "incremental"},
		{ddl: `CREATE UNIQUE INDEX "Idx.""x" ON api."Odd Name" ("Col.""Q")`, path: "/Odd%20Name?select=id", want: 200,
			kind: "incremental"},
		{ddl: `CREATE TYPE api.mood AS ENUM ('calm'); ALTER TABLE api.shelf ADD COLUMN mood api.mood DEFAULT 'calm'`,
			path: "/shelf?select=mood&id=eq.1", want: 200, body: `[{"mood":"calm"}]`, inDoc: `["calm"]`},
		{ddl: `ALTER TYPE api.mood ADD VALUE 'busy'`, path: "/shelf?select=id&mood=eq.busy", want: 200, body: `[]`,
			inDoc: `["calm","busy"]`},
		{ddl: `CREATE MATERIALIZED VIEW api.shelf_count AS SELECT count(*) AS n FROM api.shelf`,
			path: "/shelf_count", want: 200, body: `[{"n":2}]`, inDoc: `"/shelf_count"`},
		{ddl: `DROP MATERIALIZED VIEW api.shelf_count; ALTER TABLE api.shelf DROP COLUMN mood; DROP TYPE api.mood`,
			path: "/shelf_count", want: 404, notIn: `"mood"`},
	}
	for i, st := range steps {
		SQL(t, db, st.ddl)
		latest := latestEvent(t, db)
		r := p.Get(st.path, "X-Schema-Version-Min: "+strconv.FormatInt(latest, 10))
		if r.Status != st.want {
			t.Fatalf("step %d %q: GET %s: %d, want %d: %s", i, st.ddl, st.path, r.Status, st.want, r.Body)
		}
		if v := r.Header.Get("X-Schema-Version"); v != strconv.FormatInt(latest, 10) {
			t.Fatalf("step %d %q: X-Schema-Version %s, the event log is at %d", i, st.ddl, v, latest)
		}
		if st.body != "" {
			r.JSONEq(t, st.body)
		}
		if st.kind != "" {
			if k := p.App.Schema().Stats().LastKind; k != st.kind {
				t.Fatalf("step %d %q: the snapshot was made by a %s load, want %s", i, st.ddl, k, st.kind)
			}
		}
		sameAsFullLoad(t, i, st, p, ref, db)
		if code, body := adminGet(t, admin, "/ready"); code != 200 {
			t.Fatalf("step %d %q: /ready %d %s", i, st.ddl, code, body)
		}
	}
	_, body := adminGet(t, admin, "/metrics")
	if !regexp.MustCompile(`(?m)^pgrst_schema_cache_loads_total\{status="FAIL"\} 0\.0$`).MatchString(body) {
		t.Fatalf("loads failed along the way:\n%s", body)
	}
}

// sameAsFullLoad checks p's snapshot, API and OpenAPI document against a
// full load as the authenticator, and against ref after it loaded fully.
func sameAsFullLoad(t *testing.T, i int, st staleStep, p, ref *Pgrest, db string) {
	t.Helper()
	ctx := context.Background()
	snap := p.App.Holder().Load()
	full, err := cache.Load(ctx, authConn(t, db), snap.Schemas)
	if err != nil {
		t.Fatalf("step %d: a full load as the authenticator: %v", i, err)
	}
	full.Version = snap.Version
	a, _ := snap.Dump()
	b, _ := full.Dump()
	if string(a) != string(b) {
		t.Fatalf("step %d %q: the snapshot differs from a full load:\n%s\n---\n%s", i, st.ddl, a, b)
	}
	if err := ref.App.Schema().ReloadNow(ctx); err != nil {
		t.Fatalf("step %d: full reload: %v", i, err)
	}
	for _, path := range []string{"/", st.path} {
		got, want := p.Get(path), ref.Get(path)
		if got.Status != want.Status || string(got.Body) != string(want.Body) {
			t.Fatalf("step %d %q: GET %s differs from a fully loaded instance:\n%d %s\n---\n%d %s",
				i, st.ddl, path, got.Status, got.Body, want.Status, want.Body)
		}
		if gv, wv := got.Header.Get("X-Schema-Version"), want.Header.Get("X-Schema-Version"); gv != wv {
			t.Fatalf("step %d %q: GET %s: X-Schema-Version %s, a full load's %s", i, st.ddl, path, gv, wv)
		}
	}
	doc := p.Get("/").Body
	if st.inDoc != "" && !strings.Contains(compactJSON(doc), st.inDoc) {
		t.Fatalf("step %d %q: the OpenAPI document lacks %s", i, st.ddl, st.inDoc)
	}
	if st.notIn != "" && strings.Contains(string(doc), st.notIn) {
		t.Fatalf("step %d %q: the OpenAPI document still holds %s", i, st.ddl, st.notIn)
	}
}

// compactJSON re-encodes a document without indentation, so fragments
// are written one way.
func compactJSON(b []byte) string {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return string(b)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

// A reload that fails (here: the authenticator lost SELECT on the event
// log) is logged at error level with its cause, counted in /metrics and
// /status, retried with backoff, and /ready answers 503 until a full load
// catches up with the event log.
func TestSchemaReloadFailureIsLoud(t *testing.T) {
	db := NewDB(t, recommendedRolesFixture)
	migrate(t, db)
	cfg := BaseConfig(db)
	cfg.DBSchemas = []string{"api"}
	cfg.SchemaWaitTimeout = time.Second
	var logBuf syncBuffer
	p := startLogging(t, cfg, &logBuf)
	p.WaitReady()
	admin := adminURL(t, p)
	status := func() map[string]any {
		t.Helper()
		_, body := adminGet(t, admin, "/status")
		var m map[string]any
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatalf("/status: %v: %s", err, body)
		}
		return m
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s did not happen within 30s; /status %v; log:\n%s", what, status(), logBuf.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if code, _ := adminGet(t, admin, "/ready"); code != 200 {
		t.Fatalf("/ready %d before any failure", code)
	}

	SQL(t, db, `REVOKE SELECT ON pgrest.ddl_events FROM PUBLIC; ALTER TABLE api.shelf ADD COLUMN shade text`)
	latest := latestEvent(t, db)
	waitFor("a second failed attempt", func() bool { return status()["schema_load_failures"].(float64) >= 2 })
	st := status()
	if st["schema_behind"] != true || !strings.Contains(st["schema_last_error"].(string), "permission denied") {
		t.Fatalf("/status does not say the cache is behind and why: %v", st)
	}
	if code, _ := adminGet(t, admin, "/ready"); code != 503 {
		t.Fatalf("/ready %d while the cache is behind the event log", code)
	}
	_, metrics := adminGet(t, admin, "/metrics")
	if !regexp.MustCompile(`(?m)^pgrst_schema_cache_loads_total\{status="FAIL"\} [1-9]`).MatchString(metrics) {
		t.Fatalf("/metrics does not count the failures:\n%s", metrics)
	}
	if !regexp.MustCompile(`"level":"error"[^\n]*permission denied for table ddl_events`).MatchString(logBuf.String()) {
		t.Fatalf("the failure was not logged at error level with its cause:\n%s", logBuf.String())
	}
	p.Get("/shelf?select=shade", "X-Schema-Version-Min: "+strconv.FormatInt(latest, 10)).Expect(t, 503)

	SQL(t, db, `GRANT SELECT ON pgrest.ddl_events TO PUBLIC`)
	waitFor("the recovery", func() bool { code, _ := adminGet(t, admin, "/ready"); return code == 200 })
	latest = latestEvent(t, db)
	r := p.Get("/shelf?select=id,shade&id=eq.1", "X-Schema-Version-Min: "+strconv.FormatInt(latest, 10)).Expect(t, 200)
	r.JSONEq(t, `[{"id":1,"shade":null}]`)
	if st := p.App.Schema().Stats(); st.LastKind != "full" || st.Behind || st.LastError != "" {
		t.Fatalf("after the recovery: %+v", st)
	}
	_, metrics = adminGet(t, admin, "/metrics")
	if !regexp.MustCompile(`(?m)^pgrst_schema_cache_loads_total\{status="SUCCESS"\} [2-9]`).MatchString(metrics) {
		t.Fatalf("/metrics does not count the successful loads:\n%s", metrics)
	}
}
