package integration

import (
	"context"
	"strings"
	"testing"
)

const mediaFixture = `
CREATE TABLE lines (id int PRIMARY KEY, name text);
INSERT INTO lines VALUES (1, 'one'), (2, 'two, "quoted"');
CREATE TABLE notes (id int PRIMARY KEY, body text);
INSERT INTO notes VALUES (1, 'a');

CREATE DOMAIN "text/plain" AS text;
CREATE DOMAIN "text/html" AS text;
CREATE DOMAIN "application/octet-stream" AS bytea;
CREATE DOMAIN "application/vnd.lines+text" AS text;
CREATE DOMAIN "*/*" AS bytea;
CREATE DOMAIN "application/json" AS json;

-- handler functions (RPC)
CREATE FUNCTION page() RETURNS "text/html" LANGUAGE sql STABLE AS $$SELECT '<h1>hi</h1>'::"text/html"$$;
CREATE FUNCTION greet(name text) RETURNS "text/plain" LANGUAGE sql STABLE AS $$SELECT ('hello ' || name)::"text/plain"$$;
CREATE FUNCTION blob() RETURNS "application/octet-stream" LANGUAGE sql STABLE AS $$SELECT '\x00ff10'::bytea::"application/octet-stream"$$;
CREATE FUNCTION plain_text() RETURNS text LANGUAGE sql STABLE AS $$SELECT 'plain'$$;
CREATE FUNCTION file() RETURNS "*/*" LANGUAGE plpgsql STABLE AS $$
BEGIN
  PERFORM set_config('response.headers', '[{"Content-Type": "application/pdf"}]', true);
  RETURN convert_to('%PDF', 'UTF8')::"*/*";
END$$;

-- aggregate handlers (tables): one for lines only, one for any relation
CREATE FUNCTION lines_sfunc(acc "application/vnd.lines+text", l lines) RETURNS "application/vnd.lines+text"
  LANGUAGE sql IMMUTABLE AS $$SELECT (coalesce(acc, '') || l.id || '=' || l.name || ';')::"application/vnd.lines+text"$$;
CREATE AGGREGATE lines_agg(lines) (sfunc = lines_sfunc, stype = "application/vnd.lines+text");
CREATE FUNCTION any_sfunc(acc "*/*", r anyelement) RETURNS "*/*" LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('response.headers', '[{"Content-Type": "application/x-custom"}]', true);
  RETURN (coalesce(acc, ''::bytea) || convert_to(row_to_json(r)::text || E'\n', 'UTF8'))::"*/*";
END$$;
CREATE AGGREGATE any_agg(anyelement) (sfunc = any_sfunc, stype = "*/*");
-- overriding the builtin JSON for one table
CREATE FUNCTION notes_json_sfunc(acc "application/json", n notes) RETURNS "application/json"
  LANGUAGE sql IMMUTABLE AS $$SELECT json_build_object('count', coalesce((acc->>'count')::int, 0) + 1)::"application/json"$$;
CREATE AGGREGATE notes_json(notes) (sfunc = notes_json_sfunc, stype = "application/json");
GRANT SELECT ON ALL TABLES IN SCHEMA public TO web_anon;
`

// R8: media type handlers (functions and aggregates, "*/*"), builtin types.
func TestMediaHandlers(t *testing.T) {
	db := NewDB(t, mediaFixture)
	p := StartPgrest(t, db, nil)
	expect := func(r *Resp, status int, ctype, body string) {
		t.Helper()
		r.Expect(t, status)
		if got := r.Header.Get("Content-Type"); got != ctype {
			t.Errorf("Content-Type = %q, want %q", got, ctype)
		}
		if string(r.Body) != body {
			t.Errorf("body = %q, want %q", r.Body, body)
		}
	}
	// a function returning a media-type domain answers in it, also for */*
	expect(p.Get("/rpc/page", "Accept: text/html"), 200, "text/html", "<h1>hi</h1>")
	expect(p.Get("/rpc/page"), 200, "text/html", "<h1>hi</h1>")
	// known media types carry the charset, as PostgREST sends them
	expect(p.Get("/rpc/greet?name=you", "Accept: text/plain"), 200, "text/plain; charset=utf-8", "hello you")
	expect(p.Get("/rpc/blob", "Accept: application/octet-stream"), 200, "application/octet-stream", "\x00\xff\x10")
	// a function returning "*/*" answers any Accept; SQL sets the Content-Type
	expect(p.Get("/rpc/file", "Accept: application/pdf"), 200, "application/pdf", "%PDF")
	expect(p.Get("/rpc/file"), 200, "application/pdf", "%PDF")
	// since v12, text/plain needs a handler: a plain text function can't give it
	p.Get("/rpc/plain_text", "Accept: text/plain").ExpectError(t, 406, "PGRST107")
	// an aggregate handler for one table
	expect(p.Get("/lines?order=id", "Accept: application/vnd.lines+text"), 200, "application/vnd.lines+text", `1=one;2=two, "quoted";`)
	expect(p.Get("/lines?id=eq.2", "Accept: application/vnd.lines+text"), 200, "application/vnd.lines+text", `2=two, "quoted";`)
	p.Get("/notes", "Accept: application/vnd.lines+text").Expect(t, 200) // through the any handler
	// the any handler takes media types nothing else serves; SQL may set Content-Type
	expect(p.Get("/notes", "Accept: application/x-whatever"), 200, "application/x-custom", `{"id":1,"body":"a"}`+"\n")
	// builtins still win for their types, and a domain named after a builtin
	// overrides it (the media types PostgREST knows keep their charset)
	p.Get("/lines?select=id&order=id", "Accept: text/csv").Expect(t, 200)
	expect(p.Get("/notes", "Accept: application/json"), 200, "application/json; charset=utf-8", `{"count" : 1}`)
	p.Get("/lines?select=id&order=id").Expect(t, 200).JSONEq(t, `[{"id":1},{"id":2}]`)
}

// R8 without handlers: unknown media types are refused.
func TestMediaUnsupported(t *testing.T) {
	db := NewDB(t, `CREATE TABLE t (id int); GRANT SELECT ON t TO web_anon;`)
	p := StartPgrest(t, db, nil)
	e := p.Get("/t", "Accept: text/plain").ExpectError(t, 406, "PGRST107")
	if !strings.Contains(e["message"].(string), "text/plain") {
		t.Errorf("message: %v", e["message"])
	}
	p.Get("/t", "Accept: application/xml, application/json;q=0.5").Expect(t, 200)
	// GeoJSON needs PostGIS in the database
	p.Get("/t", "Accept: application/geo+json").ExpectError(t, 406, "PGRST107")
}

// R10: domain representations through casts defined in the database.
func TestDomainRepresentations(t *testing.T) {
	db := NewDB(t, `
CREATE DOMAIN color AS int;
CREATE FUNCTION color_json(color) RETURNS json LANGUAGE sql IMMUTABLE AS $$SELECT to_json('#' || lpad(to_hex($1::int), 6, '0'))$$;
CREATE FUNCTION color_text(text) RETURNS color LANGUAGE sql IMMUTABLE AS $$SELECT ('x' || lpad(ltrim($1, '#'), 8, '0'))::bit(32)::int::color$$;
CREATE CAST (color AS json) WITH FUNCTION color_json(color) AS IMPLICIT;
CREATE CAST (text AS color) WITH FUNCTION color_text(text) AS IMPLICIT;
CREATE FUNCTION color_from_json(json) RETURNS color LANGUAGE sql IMMUTABLE AS $$SELECT color_text($1 #>> '{}')$$;
CREATE CAST (json AS color) WITH FUNCTION color_from_json(json) AS IMPLICIT;
CREATE TABLE paints (id int PRIMARY KEY, name text, shade color);
INSERT INTO paints VALUES (1, 'red', 16711680), (2, 'green', 65280), (3, 'blue', 255);
GRANT SELECT, INSERT, UPDATE ON paints TO web_anon;
`)
	p := StartPgrest(t, db, nil)
	p.Get("/paints?id=eq.1").Expect(t, 200).JSONEq(t, `[{"id":1,"name":"red","shade":"#ff0000"}]`)
	p.Get("/paints?select=shade&id=eq.3").Expect(t, 200).JSONEq(t, `[{"shade":"#0000ff"}]`)
	p.Get("/paints?select=name&shade=eq.%2300ff00").Expect(t, 200).JSONEq(t, `[{"name":"green"}]`)
	p.Get("/paints?select=name&shade=in.(%23ff0000,%230000ff)&order=id").Expect(t, 200).JSONEq(t, `[{"name":"red"},{"name":"blue"}]`)
	// a cast applies on top of the representation (as in PostgREST); CSV
	// shows the stored value
	p.Get("/paints?select=shade::text&id=eq.3").Expect(t, 200).JSONEq(t, `[{"shade":"\"#0000ff\""}]`)
	p.Get("/paints?select=s:shade::text&id=eq.3").Expect(t, 200).JSONEq(t, `[{"s":"\"#0000ff\""}]`)
	r := p.Get("/paints?select=shade&id=eq.3", "Accept: text/csv").Expect(t, 200)
	if string(r.Body) != "shade\n255" {
		t.Errorf("csv = %q", r.Body)
	}
	// request bodies go through the json cast, for inserts and updates
	json := "Content-Type: application/json"
	p.Do("POST", "/paints?select=id,shade", `[{"id": 4, "name": "grey", "shade": "#808080"}]`, json, "Prefer: return=representation").
		Expect(t, 201).JSONEq(t, `[{"id":4,"shade":"#808080"}]`)
	p.Do("PATCH", "/paints?id=eq.4&select=shade", `{"shade": "#000010"}`, json, "Prefer: return=representation").
		Expect(t, 200).JSONEq(t, `[{"shade":"#000010"}]`)
}

// R8: application/geo+json with PostGIS.
func TestGeoJSON(t *testing.T) {
	db := NewDB(t, "")
	var available bool
	superConn(t, db).QueryRow(context.Background(), "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'postgis')").Scan(&available)
	if !available {
		t.Skip("PostGIS is not installed (.ci/run installs postgresql-15-postgis-3)")
	}
	SQL(t, db, `
CREATE EXTENSION postgis;
CREATE TABLE places (id int PRIMARY KEY, name text, geom geometry(Point, 4326));
INSERT INTO places VALUES (1, 'origin', 'SRID=4326;POINT(0 0)'), (2, 'east', 'SRID=4326;POINT(1 0)');
GRANT SELECT ON places TO web_anon;
`)
	p := StartPgrest(t, db, nil)
	r := p.Get("/places?select=name,geom&order=id", "Accept: application/geo+json").Expect(t, 200)
	if ct := r.Header.Get("Content-Type"); ct != "application/geo+json; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	r.JSONEq(t, `{"type":"FeatureCollection","features":[
		{"type":"Feature","geometry":{"type":"Point","coordinates":[0,0]},"properties":{"name":"origin"}},
		{"type":"Feature","geometry":{"type":"Point","coordinates":[1,0]},"properties":{"name":"east"}}]}`)
}
