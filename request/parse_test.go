package request

import (
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/pgrest/pgrest/apierr"
)

func parse(t *testing.T, method, target string, headers ...string) (*Request, int, string) {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	req, err := Parse(r, Options{Schemas: []string{"api", "other"}})
	if err != nil {
		e := apierr.As(err)
		return nil, e.Status, e.Code
	}
	return req, 0, ""
}

func TestSelectGrammar(t *testing.T) {
	req, _, code := parse(t, "GET", "/t?select=id,alias:name::text,data->a->>b,c:rel!fk!inner(x,...sub(y)),count(),amount.sum()::int,e()")
	if code != "" {
		t.Fatal(code)
	}
	s := req.Select
	if len(s) != 7 {
		t.Fatalf("items: %+v", s)
	}
	if s[1].Alias != "alias" || s[1].Field.Name != "name" || s[1].Cast != "text" {
		t.Errorf("alias/cast: %+v", s[1])
	}
	if !reflect.DeepEqual(s[2].Field, Field{Name: "data", Path: []JSONOp{{Key: "a"}, {Text: true, Key: "b"}}}) {
		t.Errorf("json path: %+v", s[2].Field)
	}
	e := s[3].Embed
	if e == nil || e.Name != "rel" || e.Alias != "c" || e.Hint != "fk" || e.JoinType != "inner" || len(e.Select) != 2 || e.Select[1].Embed == nil || !e.Select[1].Embed.Spread {
		t.Errorf("embed: %+v", e)
	}
	if s[4].Aggregate != "count" || s[5].Aggregate != "sum" || s[5].AggregateCast != "int" || s[5].Field.Name != "amount" {
		t.Errorf("aggregates: %+v %+v", s[4], s[5])
	}
	if s[6].Embed == nil || len(s[6].Embed.Select) != 0 || s[6].Embed.Select == nil {
		t.Errorf("empty embed: %+v", s[6])
	}
}

func TestFilterGrammar(t *testing.T) {
	req, _, code := parse(t, "GET", `/t?a=not.eq.1&b=in.(1,"x,y",3)&c=like(any).{a*,b*}&d=fts(english).cat&rel.e=is.null&f->>g=gt.2`)
	if code != "" {
		t.Fatal(code)
	}
	f := req.Filters
	if !f[0].Op.Negated || f[0].Op.Op != "eq" || f[0].Op.Value != "1" {
		t.Errorf("not.eq: %+v", f[0])
	}
	if !reflect.DeepEqual(f[1].Op.List, []string{"1", "x,y", "3"}) {
		t.Errorf("in: %+v", f[1].Op.List)
	}
	if f[2].Op.Quant != "any" || !reflect.DeepEqual(f[2].Op.List, []string{"a*", "b*"}) {
		t.Errorf("any: %+v", f[2].Op)
	}
	if f[3].Op.Language != "english" || f[3].Op.Value != "cat" {
		t.Errorf("fts: %+v", f[3].Op)
	}
	if !reflect.DeepEqual(f[4].Path, []string{"rel"}) || f[4].Op.Value != "null" {
		t.Errorf("embedded is.null: %+v", f[4])
	}
	if f[5].Field.Name != "f" || len(f[5].Field.Path) != 1 {
		t.Errorf("json filter: %+v", f[5])
	}
}

func TestLogicOrderRange(t *testing.T) {
	req, _, code := parse(t, "GET", "/t?or=(a.eq.1,and(b.gt.2,c.not.is.null))&not.and=(x.eq.1,y.eq.2)&rel.or=(z.eq.3)&order=a.desc.nullslast,b,rel(c).asc&rel.limit=2&offset=5&limit=10",
		"Range", "0-4")
	if code != "" {
		t.Fatal(code)
	}
	if len(req.Logic) != 3 || !req.Logic[0].Or || req.Logic[0].Children[1].Tree == nil || req.Logic[0].Children[1].Tree.Or {
		t.Fatalf("logic: %+v", req.Logic)
	}
	if !req.Logic[1].Negated || req.Logic[1].Or || !reflect.DeepEqual(req.Logic[2].Path, []string{"rel"}) {
		t.Errorf("negated/scoped logic: %+v", req.Logic[1:])
	}
	o := req.Orders[0].Terms
	if !o[0].Desc || o[0].Nulls != NullsLast || o[1].Desc || o[2].Relation != "rel" {
		t.Errorf("order: %+v", o)
	}
	// limit 10 offset 5 intersected with Range 0-4 → nothing from 5 on within 0-4.
	root := req.Ranges[1]
	if root.Path != nil || root.Offset != 5 || root.Limit == nil || *root.Limit != 0 {
		t.Errorf("root range: %+v", root)
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct {
		target string
		status int
		code   string
	}{
		{"/t?a=bogus.1", 400, "PGRST100"},
		{"/t?a=is.maybe", 400, "PGRST100"},
		{"/t?or=(a.eq.1", 400, "PGRST100"},
		{"/t?select=a,(", 400, "PGRST100"},
		{"/t?order=a.up", 400, "PGRST100"},
		{"/t?limit=x", 0, ""}, // PostgREST ignores a limit that is not an integer
		{"/t?limit=-1", 416, "PGRST103"},
		{"/t?select=data->(x", 400, "PGRST100"},
		{`/t?select="unclosed`, 400, "PGRST100"},
		{"/t?a=in.1,2", 400, "PGRST100"},
		{"/a/b", 404, "PGRST125"},
	} {
		if _, st, code := parse(t, "GET", c.target); st != c.status || code != c.code {
			t.Errorf("%s: got %d %s, want %d %s", c.target, st, code, c.status, c.code)
		}
	}
	if _, st, code := parse(t, "GET", "/t", "Accept-Profile", "nope"); st != 406 || code != "PGRST106" {
		t.Errorf("profile: %d %s", st, code)
	}
	if _, st, code := parse(t, "GET", "/t", "Prefer", "handling=strict, foo=bar"); st != 400 || code != "PGRST122" {
		t.Errorf("strict prefer: %d %s", st, code)
	}
	if _, st, code := parse(t, "TRACE", "/t"); st != 405 || code != "PGRST117" {
		t.Errorf("method: %d %s", st, code)
	}
	if _, st, code := parse(t, "PUT", "/rpc/f"); st != 405 || code != "PGRST101" {
		t.Errorf("rpc method: %d %s", st, code)
	}
	req, _, _ := parse(t, "GET", "/t", "Accept-Profile", "other", "Prefer", "count=exact, return=minimal, tx=rollback, max-affected=5")
	if req.Schema != "other" || !req.SchemaNegotiated || req.Prefs.Count != "exact" || req.Prefs.Tx != "rollback" || *req.Prefs.MaxAffected != 5 {
		t.Errorf("profile/prefer: %+v %+v", req.Schema, req.Prefs)
	}
}

func TestQuotedNamesAndJSONKeys(t *testing.T) {
	req, _, code := parse(t, "GET", `/t?select="a:b->c::d",x:"(p,q)",data->"k.1"->>-2,data->a-b->>c&"*id*"=eq.1&order="a.b".desc`)
	if code != "" {
		t.Fatal(code)
	}
	s := req.Select
	if len(s) != 4 || s[0].Field.Name != "a:b->c::d" || s[0].Cast != "" || s[1].Alias != "x" || s[1].Field.Name != "(p,q)" {
		t.Fatalf("quoted names: %+v", s)
	}
	if !reflect.DeepEqual(s[2].Field.Path, []JSONOp{{Key: "k.1"}, {Text: true, Key: "-2"}}) || !s[2].Field.Path[1].IsIndex() {
		t.Errorf("quoted key, negative index: %+v", s[2].Field.Path)
	}
	if !reflect.DeepEqual(s[3].Field.Path, []JSONOp{{Key: "a-b"}, {Text: true, Key: "c"}}) {
		t.Errorf("dashed key: %+v", s[3].Field.Path)
	}
	if req.Filters[0].Field.Name != "*id*" || req.Orders[0].Terms[0].Field.Name != "a.b" || !req.Orders[0].Terms[0].Desc {
		t.Errorf("quoted filter/order: %+v %+v", req.Filters[0], req.Orders[0])
	}
}

func TestQuotedNameInLogicTree(t *testing.T) {
	req, _, code := parse(t, "GET", `/t?or=("a.b".eq.1,c.eq.2)`)
	if code != "" {
		t.Fatal(code)
	}
	if f := req.Logic[0].Children[0].Filter; f == nil || f.Field.Name != "a.b" || f.Op.Value != "1" {
		t.Fatalf("%+v", req.Logic[0].Children[0])
	}
}
