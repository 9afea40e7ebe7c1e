package planner

import (
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/pgrest/pgrest/apierr"
	"github.com/pgrest/pgrest/cache"
	"github.com/pgrest/pgrest/request"
)

// testSnapshot is a hand-built schema: items -> owners (m2o), items <- notes (o2m).
func testSnapshot() *cache.Snapshot {
	col := func(n, t string) *cache.Column { return &cache.Column{Name: n, Type: t} }
	items := &cache.Relation{Schema: "public", Name: "items", Kind: cache.KindTable, PrimaryKey: []string{"id"},
		Columns: []*cache.Column{col("id", "integer"), col("name", "text"), col("owner_id", "integer"), col("data", "jsonb")}}
	owners := &cache.Relation{Schema: "public", Name: "owners", Kind: cache.KindTable, PrimaryKey: []string{"id"},
		Columns: []*cache.Column{col("id", "integer"), col("name", "text")}}
	notes := &cache.Relation{Schema: "public", Name: "notes", Kind: cache.KindTable, PrimaryKey: []string{"id"},
		Columns: []*cache.Column{col("id", "integer"), col("item_id", "integer"), col("body", "text")}}
	s := &cache.Snapshot{Version: 1, Schemas: []string{"public"},
		Relations:     map[cache.QI]*cache.Relation{items.QI(): items, owners.QI(): owners, notes.QI(): notes},
		Relationships: map[cache.QI][]*cache.Relationship{}}
	s.Relationships[items.QI()] = []*cache.Relationship{
		{Table: items.QI(), ForeignTable: owners.QI(), Cardinality: cache.ManyToOne, Constraint: "items_owner_fk", Columns: []string{"owner_id"}, ForeignColumns: []string{"id"}, ToOne: true},
		{Table: items.QI(), ForeignTable: notes.QI(), Cardinality: cache.OneToMany, Constraint: "notes_item_fk", Columns: []string{"id"}, ForeignColumns: []string{"item_id"}},
	}
	// functions: a set of items with a default argument, and a volatile
	// scalar one
	s.Functions = map[cache.QI][]*cache.Function{
		{Schema: "public", Name: "search_items"}: {{Schema: "public", Name: "search_items", ReturnType: items.QI(), ReturnKind: cache.ReturnsComposite,
			ReturnsSet: true, ReturnsRelation: true, Volatility: cache.Stable, Columns: items.Columns,
			Params: []cache.Param{{Name: "q", Type: "text"}, {Name: "lim", Type: "integer", HasDefault: true}}}},
		{Schema: "public", Name: "add_note"}: {{Schema: "public", Name: "add_note", ReturnType: cache.QI{Schema: "pg_catalog", Name: "int4"},
			ReturnKind: cache.ReturnsScalar, Volatility: cache.Volatile, Settings: map[string]string{"work_mem": "1MB"},
			Params: []cache.Param{{Name: "item_id", Type: "integer"}, {Name: "body", Type: "text"}}}},
	}
	return s.Finalize()
}

// quotedIdent matches "..." identifiers (with "" escapes) and $n parameters.
var quotedIdent = regexp.MustCompile(`"(?:[^"]|"")*"|\$[0-9]+`)

// FuzzPlan drives the parser and the planner with arbitrary query strings:
// nothing panics, every failure is an API error, and no fuzzed byte reaches
// the SQL outside a bind parameter or a quoted identifier.
func FuzzPlan(f *testing.F) {
	for _, seed := range []string{
		"select=id,name&id=eq.1",
		"select=*,owners(name),notes(body)&notes.body=like.*x*&order=name.desc.nullslast&limit=5",
		"or=(id.eq.1,and(name.is.null,not.id.in.(1,2)))",
		"select=data->a->>b,n:data->0&data->>k=eq.v",
		"name=like(any).{a*,b*}&id=not.gte(all).{1,2}",
		"select=id::text,name::character varying&order=id",
		"select=owners!inner(name)&owners.name=eq.'; drop table x; --",
		"select=count()&name=fts(english).fox",
		`name=in.("a,b","c\"d")`,
	} {
		f.Add(seed)
	}
	snap := testSnapshot()
	m := New(64)
	f.Fuzz(func(t *testing.T, q string) {
		r := httptest.NewRequest("GET", "/items", nil)
		r.URL.RawQuery = q
		req, aerr := request.Parse(r, request.Options{Schemas: []string{"public"}})
		if aerr != nil {
			if s := apierr.As(aerr).Status; s < 400 || s >= 500 {
				t.Fatalf("parse error with status %d: %v", s, aerr)
			}
			return
		}
		p, err := m.Plan(req, snap, Options{AggregatesEnabled: true})
		if err != nil {
			if _, ok := err.(*apierr.Error); !ok {
				t.Fatalf("planner returned a non-API error: %v", err)
			}
			return
		}
		// Strip identifiers and parameters; what remains is our own SQL
		// vocabulary, which must not contain the client's values.
		rest := quotedIdent.ReplaceAllString(p.SQL, " ")
		for _, arg := range p.Args {
			s, ok := arg.(string)
			if !ok || len(s) < 4 || !strings.ContainsAny(s, "';-") {
				continue
			}
			if strings.Contains(rest, s) {
				t.Fatalf("value %q appears in SQL outside parameters:\n%s", s, p.SQL)
			}
		}
		if strings.Contains(rest, ";") {
			t.Fatalf("statement separator in SQL:\n%s", p.SQL)
		}
	})
}

// FuzzCall drives /rpc calls: arbitrary query strings for GET and bodies
// for POST, against overloaded functions. Arguments only ever travel as
// one bind parameter.
func FuzzCall(f *testing.F) {
	for _, seed := range []string{
		"term=a&n=2", "term=x&id=gt.1&select=id,owners(name)", `{"term": "a"}`, `{"term": "'; drop", "n": 1}`,
		"xs=1&xs=2", `[1, 2]`, `{"a": {"b": [1]}}`,
	} {
		f.Add(seed)
	}
	snap := testSnapshot()
	items := cache.QI{Schema: "public", Name: "items"}
	snap.Functions = map[cache.QI][]*cache.Function{
		{Schema: "public", Name: "search"}: {
			{Schema: "public", Name: "search", Params: []cache.Param{{Name: "term", Type: "text"}, {Name: "n", Type: "integer", HasDefault: true}},
				ReturnType: items, ReturnKind: cache.ReturnsComposite, ReturnsSet: true, ReturnsRelation: true, Volatility: cache.Stable},
			{Schema: "public", Name: "search", Params: []cache.Param{{Name: "xs", Type: "integer[]", Variadic: true}},
				ReturnType: cache.QI{Schema: "pg_catalog", Name: "int4"}, ReturnKind: cache.ReturnsScalar, Volatility: cache.Immutable},
			{Schema: "public", Name: "search", Params: []cache.Param{{Type: "json"}},
				ReturnType: cache.QI{Schema: "pg_catalog", Name: "json"}, ReturnKind: cache.ReturnsScalar, Volatility: cache.Volatile},
		},
	}
	m := New(64)
	f.Fuzz(func(t *testing.T, q string) {
		for _, method := range []string{"GET", "POST"} {
			r := httptest.NewRequest(method, "/rpc/search", strings.NewReader(q))
			if method == "GET" {
				r.URL.RawQuery = q
			} else {
				r.Header.Set("Content-Type", "application/json")
			}
			req, aerr := request.Parse(r, request.Options{Schemas: []string{"public"}})
			if aerr != nil {
				if s := apierr.As(aerr).Status; s < 400 || s >= 500 {
					t.Fatalf("parse error with status %d: %v", s, aerr)
				}
				continue
			}
			p, err := m.Plan(req, snap, Options{})
			if err != nil {
				if _, ok := err.(*apierr.Error); !ok {
					t.Fatalf("planner returned a non-API error: %v", err)
				}
				continue
			}
			rest := quotedIdent.ReplaceAllString(p.SQL, " ")
			if len(q) >= 4 && strings.ContainsAny(q, "';-") && strings.Contains(rest, q) {
				t.Fatalf("input %q appears in SQL outside parameters:\n%s", q, p.SQL)
			}
			if strings.Contains(rest, ";") {
				t.Fatalf("statement separator in SQL:\n%s", p.SQL)
			}
		}
	})
}
