package integration

import (
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/pgrest/pgrest/server/config"
)

const readFixture = `
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE items (
  id int PRIMARY KEY,
  name text,
  price numeric,
  active boolean,
  born date,
  tags text[],
  data jsonb,
  span int4range,
  feeling mood,
  doc tsvector
);
INSERT INTO items VALUES
  (1, 'apple',  1.50, true,  '2020-01-01', '{red,fruit}',   '{"a":{"b":"x"},"n":1,"arr":[10,20]}', '[1,5)',  'happy', to_tsvector('english', 'the quick brown fox')),
  (2, 'banana', 0.25, false, '2021-06-15', '{yellow,fruit}', '{"a":{"b":"y"},"n":2,"arr":[30]}',    '[5,10)', 'ok',    to_tsvector('english', 'lazy dogs sleeping')),
  (3, 'cherry', 3.00, NULL,  NULL,         '{red}',          '{"n":3}',                             NULL,     'sad',   to_tsvector('english', 'foxes and dogs')),
  (4, 'Date, "dried"', NULL, true, '2022-02-02', '{}',        NULL,                                  '[20,30)','ok',    NULL);
GRANT SELECT ON items TO web_anon;
`

func ids(t *testing.T, r *Resp) string {
	t.Helper()
	rows, ok := r.JSON(t).([]any)
	if !ok {
		t.Fatalf("not an array: %s", r.Body)
	}
	var out []string
	for _, row := range rows {
		out = append(out, fmtFloat(row.(map[string]any)["id"].(float64)))
	}
	return strings.Join(out, ",")
}

// R2, R3: every operator, not/any/all, logic trees.
func TestFilters(t *testing.T) {
	db := NewDB(t, readFixture)
	p := StartPgrest(t, db, nil)
	cases := []struct{ q, want string }{
		{"id=eq.1", "1"},
		{"id=neq.1", "2,3,4"},
		{"id=gt.2", "3,4"},
		{"id=gte.2", "2,3,4"},
		{"id=lt.2", "1"},
		{"id=lte.2", "1,2"},
		{"name=like.*an*", "2"},
		{"name=ilike.DATE*", "4"},
		{"name=match.^[ab]", "1,2"},
		{"name=imatch.^C", "3"},
		{"id=in.(1,3)", "1,3"},
		{"name=in.(apple,\"Date, \\\"dried\\\"\")", "1,4"},
		{"active=is.null", "3"},
		{"active=is.true", "1,4"},
		{"active=is.false", "2"},
		{"active=not.is.null", "1,2,4"},
		{"active=isdistinct.true", "2,3"},
		{"price=gt.1", "1,3"},
		{"born=gte.2021-01-01", "2,4"},
		{"feeling=eq.ok", "2,4"},
		{"tags=cs.{red}", "1,3"},
		{"tags=cd.{red,fruit}", "1,3,4"},
		{"tags=ov.{yellow,red}", "1,2,3"},
		{"span=sl.[10,20)", "1,2"},
		{"span=sr.[6,7)", "4"},
		{"span=nxr.[1,6)", "1"},
		{"span=nxl.[5,6)", "2,4"},
		{"span=adj.[10,20)", "2,4"},
		{"span=ov.[4,6)", "1,2"},
		{"doc=fts.fox", "1,3"},
		{"doc=fts(english).dogs", "2,3"},
		{"doc=plfts.lazy dogs", "2"},
		{"doc=phfts(english).lazy dogs", "2"},
		{"doc=wfts.fox or lazy", "1,2,3"},
		{"data->>n=eq.2", "2"},
		{"data->a->>b=eq.x", "1"},
		{"data->arr->>0=eq.30", "2"},
		{"name=not.eq.apple", "2,3,4"},
		{"name=like(any).{a*,c*}", "1,3"},
		{"name=like(all).{*a*,*n*}", "2"},
		{"id=eq(any).{1,2}", "1,2"},
		{"id=gt(all).{1,2}", "3,4"},
		{"or=(id.eq.1,id.eq.3)", "1,3"},
		{"and=(id.gte.2,id.lte.3)", "2,3"},
		{"not.or=(id.eq.1,id.eq.3)", "2,4"},
		{"or=(id.eq.1,and(active.is.null,price.gt.2))", "1,3"},
		{"or=(id.eq.1,not.and(id.gte.2,id.lte.3))", "1,4"},
		{"or=(name.eq.\"Date, \\\"dried\\\"\",id.eq.1)", "1,4"},
		{"id=gt.1&or=(active.is.true,active.is.null)", "3,4"},
	}
	for _, c := range cases {
		q := strings.ReplaceAll(c.q, " ", "%20")
		r := p.Get("/items?select=id&order=id&" + q)
		if r.Status != 200 {
			t.Errorf("%s: status %d: %s", c.q, r.Status, r.Body)
			continue
		}
		if got := ids(t, r); got != c.want {
			t.Errorf("%s: got ids %q, want %q", c.q, got, c.want)
		}
	}
}

// R4: select forms.
func TestSelectForms(t *testing.T) {
	db := NewDB(t, readFixture)
	p := StartPgrest(t, db, nil)
	p.Get("/items?select=id,name&id=eq.1").Expect(t, 200).JSONEq(t, `[{"id":1,"name":"apple"}]`)
	p.Get("/items?select=ident:id,label:name&id=eq.2").Expect(t, 200).JSONEq(t, `[{"ident":2,"label":"banana"}]`)
	p.Get("/items?select=id,price::text&id=eq.1").Expect(t, 200).JSONEq(t, `[{"id":1,"price":"1.50"}]`)
	p.Get("/items?select=id::text&id=eq.1").Expect(t, 200).JSONEq(t, `[{"id":"1"}]`)
	p.Get("/items?select=data->a->>b,data->arr->0,n:data->n&id=eq.1").Expect(t, 200).JSONEq(t, `[{"b":"x","arr":10,"n":1}]`) // an index is named by the last key
	p.Get("/items?select=*&id=eq.4").Expect(t, 200)
	p.Get("/items?select=id,bogus").ExpectError(t, 400, "42703")
	p.Get("/items?select=id::not-a-type").ExpectError(t, 400, "PGRST100")
	p.Get("/items?select=id,(").ExpectError(t, 400, "PGRST100")
}

// R5: order forms.
func TestOrder(t *testing.T) {
	db := NewDB(t, readFixture)
	p := StartPgrest(t, db, nil)
	check := func(q, want string) {
		t.Helper()
		if got := ids(t, p.Get("/items?select=id&"+q).Expect(t, 200)); got != want {
			t.Errorf("%s: got %s want %s", q, got, want)
		}
	}
	check("order=id.desc", "4,3,2,1")
	check("order=price.desc.nullslast,id", "3,1,2,4")
	check("order=price.asc.nullsfirst", "4,2,1,3")
	check("order=active.desc,id.asc", "3,1,4,2")
	check("order=data->>n.desc.nullslast", "3,2,1,4")
	p.Get("/items?order=id.sideways").ExpectError(t, 400, "PGRST100")
}

// R6, R7: limit/offset, Range, Content-Range, 206/416, counts, db-max-rows.
func TestPaginationAndCount(t *testing.T) {
	db := NewDB(t, readFixture)
	p := StartPgrest(t, db, nil)
	r := p.Get("/items?select=id&order=id&limit=2&offset=1").Expect(t, 200)
	if got := ids(t, r); got != "2,3" {
		t.Fatalf("limit/offset: %s", got)
	}
	if cr := r.Header.Get("Content-Range"); cr != "1-2/*" {
		t.Fatalf("Content-Range %q", cr)
	}
	r = p.Get("/items?select=id&order=id", "Range-Unit: items", "Range: 0-1", "Prefer: count=exact")
	r.Expect(t, 206)
	if cr := r.Header.Get("Content-Range"); cr != "0-1/4" {
		t.Fatalf("Content-Range %q", cr)
	}
	r = p.Get("/items?select=id", "Prefer: count=exact").Expect(t, 200)
	if cr := r.Header.Get("Content-Range"); cr != "0-3/4" {
		t.Fatalf("Content-Range %q", cr)
	}
	r = p.Get("/items?select=id&offset=10", "Prefer: count=exact")
	r.ExpectError(t, 416, "PGRST103")
	if cr := r.Header.Get("Content-Range"); cr != "*/4" {
		t.Fatalf("416 Content-Range %q", cr)
	}
	p.Get("/items", "Range: 3-1").ExpectError(t, 416, "PGRST103")
	r = p.Get("/items?select=id&id=gt.100").Expect(t, 200)
	if cr := r.Header.Get("Content-Range"); cr != "*/*" {
		t.Fatalf("empty Content-Range %q", cr)
	}
	// A planned count is the planner's estimate, so 206 is right when it
	// guesses more rows than the page holds.
	r = p.Get("/items?select=id", "Prefer: count=planned")
	if r.Status != 200 && r.Status != 206 {
		t.Fatalf("planned count: status %d: %s", r.Status, r.Body)
	}
	if cr := r.Header.Get("Content-Range"); !strings.HasPrefix(cr, "0-3/") || cr == "0-3/*" {
		t.Fatalf("planned Content-Range %q", cr)
	}
	p.Get("/items?limit=-1").ExpectError(t, 416, "PGRST103") // as PostgREST

	capped := StartPgrest(t, db, func(c *config.Config) { m := int64(2); c.DBMaxRows = &m })
	if got := ids(t, capped.Get("/items?select=id&order=id").Expect(t, 200)); got != "1,2" {
		t.Fatalf("db-max-rows: %s", got)
	}
	if got := ids(t, capped.Get("/items?select=id&order=id&limit=10").Expect(t, 200)); got != "1,2" {
		t.Fatalf("db-max-rows over limit: %s", got)
	}
}

// R8: media types.
func TestMediaTypes(t *testing.T) {
	db := NewDB(t, readFixture)
	p := StartPgrest(t, db, nil)
	r := p.Get("/items?select=id,name&order=id", "Accept: text/csv").Expect(t, 200)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Fatalf("Content-Type %q", ct)
	}
	want := "id,name\n1,apple\n2,banana\n3,cherry\n4,\"Date, \"\"dried\"\"\""
	if string(r.Body) != want {
		t.Fatalf("csv:\n%s\nwant:\n%s", r.Body, want)
	}
	r = p.Get("/items?select=id,name&id=eq.1", "Accept: application/vnd.pgrst.object+json").Expect(t, 200)
	r.JSONEq(t, `{"id":1,"name":"apple"}`)
	p.Get("/items?select=id", "Accept: application/vnd.pgrst.object+json").ExpectError(t, 406, "PGRST116")
	p.Get("/items?select=id&id=eq.99", "Accept: application/vnd.pgrst.object+json").ExpectError(t, 406, "PGRST116")
	p.Get("/items?select=id,active&id=eq.3", "Accept: application/vnd.pgrst.array+json;nulls=stripped").Expect(t, 200).JSONEq(t, `[{"id":3}]`)
	p.Get("/items", "Accept: application/xml").ExpectError(t, 406, "PGRST107")
	p.Get("/items?select=id&id=eq.1", "Accept: text/html, application/json;q=0.5").Expect(t, 200).JSONEq(t, `[{"id":1}]`)
	// HEAD: headers, no body.
	r = p.Do("HEAD", "/items", "", "Prefer: count=exact").Expect(t, 200)
	if len(r.Body) != 0 || r.Header.Get("Content-Range") != "0-3/4" {
		t.Fatalf("HEAD: body %q range %q", r.Body, r.Header.Get("Content-Range"))
	}
	p.Get("/items", "Accept: application/vnd.pgrst.plan").ExpectError(t, 406, "PGRST107")
	planned := StartPgrest(t, db, func(c *config.Config) { c.DBPlanEnabled = true })
	r = planned.Get("/items?id=eq.1", "Accept: application/vnd.pgrst.plan+json").Expect(t, 200)
	if !strings.Contains(string(r.Body), "Plan") {
		t.Fatalf("plan output: %s", r.Body)
	}
}

// R1: unknown relations, hints, bad grammar, unknown preferences.
func TestReadErrors(t *testing.T) {
	db := NewDB(t, readFixture)
	p := StartPgrest(t, db, nil)
	m := p.Get("/itemz").ExpectError(t, 404, "PGRST205")
	if m["hint"] != "Perhaps you meant the table 'public.items'" {
		t.Fatalf("hint: %v", m["hint"])
	}
	if m := p.Get("/zzzzzzzzzzzzzz").ExpectError(t, 404, "PGRST205"); m["hint"] != nil {
		t.Fatalf("no hint expected: %v", m["hint"])
	}
	p.Get("/items?id=bogus.1").ExpectError(t, 400, "PGRST100")
	p.Get("/items?id=is.maybe").ExpectError(t, 400, "PGRST100")
	p.Get("/items?or=(id.eq.1").ExpectError(t, 400, "PGRST100")
	p.Get("/items?id=eq.notanumber").ExpectError(t, 400, "22P02")
	p.Get("/a/b").ExpectError(t, 404, "PGRST125")
	p.Get("/items", "Prefer: handling=strict, bogus=1").ExpectError(t, 400, "PGRST122")
	p.Get("/items", "Prefer: handling=lenient, bogus=1").Expect(t, 200)
	p.Get("/items", "Accept-Profile: other").ExpectError(t, 406, "PGRST106")
	p.Get("/items?select=id&id=eq.1&"+url.QueryEscape("data->>n")+"=eq.1").Expect(t, 200)
}

// R10: Prefer: timezone.
func TestTimezone(t *testing.T) {
	db := NewDB(t, `CREATE VIEW tz AS SELECT current_setting('timezone') AS tz; GRANT SELECT ON tz TO web_anon;`)
	p := StartPgrest(t, db, nil)
	r := p.Get("/tz", "Prefer: timezone=America/Los_Angeles").Expect(t, 200)
	r.JSONEq(t, `[{"tz":"America/Los_Angeles"}]`)
	if got := r.Header.Get("Preference-Applied"); got != "timezone=America/Los_Angeles" {
		t.Errorf("Preference-Applied = %q", got)
	}
	// v16 leaves the zone to PostgreSQL: an unknown one is its 22023, with or without handling=strict
	p.Get("/tz", "Prefer: handling=strict, timezone=Mars/Base").ExpectError(t, 400, "22023")
	p.Get("/tz", "Prefer: timezone=Mars/Base").ExpectError(t, 400, "22023")
}

// The planner memo: a repeated shape is compiled once.
func TestPlanMemo(t *testing.T) {
	db := NewDB(t, readFixture)
	p := StartPgrest(t, db, nil)
	p.Get("/items?id=eq.1").Expect(t, 200)
	misses := p.App.Planner().Misses()
	p.Get("/items?id=eq.2").Expect(t, 200).JSONEq(t, `[]`[:0]+mustBody(p.Get("/items?id=eq.2")))
	if p.App.Planner().Misses() != misses {
		t.Fatalf("same shape compiled again")
	}
	if p.App.Planner().Hits() < 1 {
		t.Fatalf("no memo hit")
	}
}

func mustBody(r *Resp) string { return string(r.Body) }

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
