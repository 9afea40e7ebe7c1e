package integration

import (
	"testing"

	"github.com/pgrest/pgrest/server/config"
)

const embedFixture = `
CREATE TABLE authors (id int PRIMARY KEY, name text);
CREATE TABLE books (id int PRIMARY KEY, title text, author_id int REFERENCES authors(id), editor_id int,
  CONSTRAINT books_editor_fk FOREIGN KEY (editor_id) REFERENCES authors(id));
CREATE TABLE profiles (author_id int PRIMARY KEY REFERENCES authors(id), bio text);
CREATE TABLE employees (id int PRIMARY KEY, name text, manager_id int REFERENCES employees(id));
CREATE TABLE readers (id int PRIMARY KEY, name text);
CREATE TABLE loans (reader_id int REFERENCES readers(id), book_id int REFERENCES books(id), PRIMARY KEY (reader_id, book_id));
CREATE TABLE regions (country text, code text, name text, PRIMARY KEY (country, code));
CREATE TABLE shops (id int PRIMARY KEY, country text, code text, FOREIGN KEY (country, code) REFERENCES regions(country, code));
CREATE TABLE events (id int, at date, shop_id int REFERENCES shops(id), PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE events_2020 PARTITION OF events FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
CREATE VIEW book_view AS SELECT id, title, author_id FROM books;

INSERT INTO authors VALUES (1, 'Le Guin'), (2, 'Calvino'), (3, 'Nobody');
INSERT INTO books VALUES (10, 'Earthsea', 1, 2), (11, 'Dispossessed', 1, NULL), (12, 'Cities', 2, 1);
INSERT INTO profiles VALUES (1, 'wrote Earthsea');
INSERT INTO employees VALUES (1, 'boss', NULL), (2, 'worker', 1), (3, 'intern', 1);
INSERT INTO readers VALUES (1, 'Ada'), (2, 'Grace');
INSERT INTO loans VALUES (1, 10), (1, 12), (2, 11);
INSERT INTO regions VALUES ('FR', '75', 'Paris'), ('IT', 'RM', 'Roma');
INSERT INTO shops VALUES (100, 'FR', '75'), (101, 'IT', 'RM');
INSERT INTO events VALUES (1, '2020-05-01', 100), (2, '2020-06-01', 100);
GRANT SELECT ON ALL TABLES IN SCHEMA public TO web_anon;
`

// E1: every relationship kind.
func TestEmbedKinds(t *testing.T) {
	db := NewDB(t, embedFixture)
	p := StartPgrest(t, db, nil)
	// many-to-one (object) through a disambiguated FK
	p.Get("/books?select=title,author:authors!author_id(name)&order=id").Expect(t, 200).
		JSONEq(t, `[{"title":"Earthsea","author":{"name":"Le Guin"}},{"title":"Dispossessed","author":{"name":"Le Guin"}},{"title":"Cities","author":{"name":"Calvino"}}]`)
	// one-to-many (array; empty array when none)
	p.Get("/authors?select=name,books!books_author_id_fkey(title)&order=id&books.order=id").Expect(t, 200).
		JSONEq(t, `[{"name":"Le Guin","books":[{"title":"Earthsea"},{"title":"Dispossessed"}]},{"name":"Calvino","books":[{"title":"Cities"}]},{"name":"Nobody","books":[]}]`)
	// one-to-one (object both ways)
	p.Get("/authors?select=name,profiles(bio)&id=in.(1,2)&order=id").Expect(t, 200).
		JSONEq(t, `[{"name":"Le Guin","profiles":{"bio":"wrote Earthsea"}},{"name":"Calvino","profiles":null}]`)
	p.Get("/profiles?select=bio,authors(name)").Expect(t, 200).JSONEq(t, `[{"bio":"wrote Earthsea","authors":{"name":"Le Guin"}}]`)
	// self-reference: the parent by the column's name, the children by the
	// table's name with the referencing column as hint
	p.Get("/employees?select=name,manager:manager_id(name)&id=eq.2").Expect(t, 200).
		JSONEq(t, `[{"name":"worker","manager":{"name":"boss"}}]`)
	p.Get("/employees?select=name,reports:employees!manager_id(name)&id=eq.1&reports.order=id").Expect(t, 200).
		JSONEq(t, `[{"name":"boss","reports":[{"name":"worker"},{"name":"intern"}]}]`)
	// many-to-many through a junction
	p.Get("/readers?select=name,books(title)&order=id&books.order=id").Expect(t, 200).
		JSONEq(t, `[{"name":"Ada","books":[{"title":"Earthsea"},{"title":"Cities"}]},{"name":"Grace","books":[{"title":"Dispossessed"}]}]`)
	// composite foreign key
	p.Get("/shops?select=id,regions(name)&order=id").Expect(t, 200).
		JSONEq(t, `[{"id":100,"regions":{"name":"Paris"}},{"id":101,"regions":{"name":"Roma"}}]`)
	// partitioned table
	p.Get("/shops?select=id,events(id)&id=eq.100&events.order=id").Expect(t, 200).
		JSONEq(t, `[{"id":100,"events":[{"id":1},{"id":2}]}]`)
	// a view over a base table keeps the table's relationships
	p.Get("/book_view?select=title,authors(name)&id=eq.12").Expect(t, 200).
		JSONEq(t, `[{"title":"Cities","authors":{"name":"Calvino"}}]`)
	p.Get("/authors?select=name,book_view(title)&id=eq.2").Expect(t, 200).
		JSONEq(t, `[{"name":"Calvino","book_view":[{"title":"Cities"}]}]`)
	// nesting
	p.Get("/readers?select=name,loans(books(title,authors!author_id(name)))&id=eq.2").Expect(t, 200).
		JSONEq(t, `[{"name":"Grace","loans":[{"books":{"title":"Dispossessed","authors":{"name":"Le Guin"}}}]}]`)
}

// E2, E3: embedded filters, order, limit; !inner; is.null filters; empty embeds.
func TestEmbedFilters(t *testing.T) {
	db := NewDB(t, embedFixture)
	p := StartPgrest(t, db, nil)
	p.Get("/authors?select=name,books!books_author_id_fkey(title)&books.title=like.E*&id=eq.1").Expect(t, 200).
		JSONEq(t, `[{"name":"Le Guin","books":[{"title":"Earthsea"}]}]`)
	p.Get("/authors?select=name,books!books_author_id_fkey(title)&books.order=title.desc&books.limit=1&id=eq.1").Expect(t, 200).
		JSONEq(t, `[{"name":"Le Guin","books":[{"title":"Earthsea"}]}]`)
	p.Get("/authors?select=name,books!books_author_id_fkey(title)&books.or=(title.eq.Cities,title.eq.Dispossessed)&order=id&id=lt.3").Expect(t, 200).
		JSONEq(t, `[{"name":"Le Guin","books":[{"title":"Dispossessed"}]},{"name":"Calvino","books":[{"title":"Cities"}]}]`)
	p.Get("/authors?select=name,books!books_author_id_fkey!inner(title)&books.title=eq.Cities").Expect(t, 200).
		JSONEq(t, `[{"name":"Calvino","books":[{"title":"Cities"}]}]`)
	p.Get("/authors?select=name,books!books_author_id_fkey(title)&books=is.null").Expect(t, 200).
		JSONEq(t, `[{"name":"Nobody","books":[]}]`)
	p.Get("/authors?select=name,profiles()&profiles=not.is.null").Expect(t, 200).JSONEq(t, `[{"name":"Le Guin"}]`)
	// other operators filter a column of that name, as in PostgREST
	p.Get("/authors?select=name,books!books_author_id_fkey(title)&books=eq.1").ExpectError(t, 400, "42703")
	p.Get("/authors?select=name&books.title=eq.x").ExpectError(t, 400, "PGRST108")
}

// E4: ambiguity and missing relationships.
func TestEmbedErrors(t *testing.T) {
	db := NewDB(t, embedFixture)
	p := StartPgrest(t, db, nil)
	m := p.Get("/books?select=title,authors(name)").ExpectError(t, 300, "PGRST201")
	if d, ok := m["details"].([]any); !ok || len(d) != 2 {
		t.Fatalf("PGRST201 details should list both candidates: %v", m["details"])
	}
	p.Get("/books?select=title,authors!books_editor_fk(name)&id=eq.10").Expect(t, 200).
		JSONEq(t, `[{"title":"Earthsea","authors":{"name":"Calvino"}}]`)
	p.Get("/books?select=title,readers_x(name)").ExpectError(t, 400, "PGRST200")
	p.Get("/regions?select=name,employees(name)").ExpectError(t, 400, "PGRST200")
}

// E7: aggregates, off unless db-aggregates-enabled.
func TestAggregates(t *testing.T) {
	db := NewDB(t, embedFixture)
	p := StartPgrest(t, db, nil)
	p.Get("/books?select=count()").ExpectError(t, 400, "PGRST123")
	on := StartPgrest(t, db, func(c *config.Config) { c.DBAggregatesEnabled = true })
	on.Get("/books?select=count()").Expect(t, 200).JSONEq(t, `[{"count":3}]`)
	on.Get("/books?select=author_id,count()&order=author_id").Expect(t, 200).
		JSONEq(t, `[{"author_id":1,"count":2},{"author_id":2,"count":1}]`)
	on.Get("/books?select=total:id.sum(),id.max()::text").Expect(t, 200).JSONEq(t, `[{"total":33,"max":"12"}]`)
	// inside embeds, grouped by the embed's other columns
	on.Get("/authors?select=name,books!books_author_id_fkey(count())&order=id").Expect(t, 200).
		JSONEq(t, `[{"name":"Le Guin","books":[{"count":2}]},{"name":"Calvino","books":[{"count":1}]},{"name":"Nobody","books":[{"count":0}]}]`)
	on.Get("/authors?select=name,books!books_author_id_fkey(editor_id,n:count())&id=eq.1&books.order=editor_id").Expect(t, 200).
		JSONEq(t, `[{"name":"Le Guin","books":[{"editor_id":2,"n":1},{"editor_id":null,"n":1}]}]`)
	p.Get("/authors?select=name,books!books_author_id_fkey(count())").ExpectError(t, 400, "PGRST123")
}

// The SQL of an embed is planned once per shape.
func TestEmbedMemo(t *testing.T) {
	db := NewDB(t, embedFixture)
	p := StartPgrest(t, db, nil)
	p.Get("/authors?select=name,books!books_author_id_fkey(title)&id=eq.1").Expect(t, 200)
	misses := p.App.Planner().Misses()
	p.Get("/authors?select=name,books!books_author_id_fkey(title)&id=eq.2").Expect(t, 200).
		JSONEq(t, `[{"name":"Calvino","books":[{"title":"Cities"}]}]`)
	if p.App.Planner().Misses() != misses {
		t.Fatal("a repeated embed shape was compiled again")
	}
}

// E5 and related ordering: spread to-one and to-many, order by a to-one embed.
func TestSpreadAndRelatedOrder(t *testing.T) {
	db := NewDB(t, embedFixture)
	p := StartPgrest(t, db, nil)
	p.Get("/books?select=title,...authors!author_id(author:name)&order=id").Expect(t, 200).
		JSONEq(t, `[{"title":"Earthsea","author":"Le Guin"},{"title":"Dispossessed","author":"Le Guin"},{"title":"Cities","author":"Calvino"}]`)
	p.Get("/authors?select=name,...books!books_author_id_fkey(titles:title)&id=lt.3&order=id&books.order=id").Expect(t, 200).
		JSONEq(t, `[{"name":"Le Guin","titles":["Earthsea","Dispossessed"]},{"name":"Calvino","titles":["Cities"]}]`)
	p.Get("/books?select=title,authors!author_id(name)&order=authors(name).asc,id.desc").Expect(t, 200).
		JSONEq(t, `[{"title":"Cities","authors":{"name":"Calvino"}},{"title":"Dispossessed","authors":{"name":"Le Guin"}},{"title":"Earthsea","authors":{"name":"Le Guin"}}]`)
	p.Get("/authors?select=name,books!books_author_id_fkey(title)&order=books(title)").ExpectError(t, 400, "PGRST118")
}

// S2/E1: a view's columns are traced to the base columns they show, also
// when the view renames them or reads through a subquery.
func TestEmbedRenamedViewColumns(t *testing.T) {
	db := NewDB(t, embedFixture+`
CREATE VIEW renamed_books AS SELECT id AS book_id, title AS name, author_id AS writer FROM books;
CREATE VIEW sub_books AS SELECT b.ident, b.label, b.by FROM (SELECT id AS ident, title AS label, author_id AS by FROM books) b;
GRANT SELECT ON renamed_books, sub_books TO web_anon;
`)
	p := StartPgrest(t, db, nil)
	p.Get("/renamed_books?select=name,authors!writer(name)&book_id=eq.12").Expect(t, 200).
		JSONEq(t, `[{"name":"Cities","authors":{"name":"Calvino"}}]`)
	p.Get("/authors?select=name,renamed_books!writer(name)&id=eq.2").Expect(t, 200).
		JSONEq(t, `[{"name":"Calvino","renamed_books":[{"name":"Cities"}]}]`)
	p.Get("/sub_books?select=label,authors(name)&ident=eq.10").Expect(t, 200).
		JSONEq(t, `[{"label":"Earthsea","authors":{"name":"Le Guin"}}]`)
}
