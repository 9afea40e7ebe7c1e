package integration

import (
	"context"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/pgrest/pgrest/planner"
	"github.com/pgrest/pgrest/request"
)

const embedBenchPath = "/customers?select=id,name,orders(id,placed,lines(qty,products(name)))&order=id"

// BenchmarkEmbed3 requests a three-level embed over 1,000 parent rows
// (3,000 orders, 9,000 lines, each with its product) through HTTP, and runs
// the same compiled statement directly on PostgreSQL, so the share of the
// request spent in the database is measured in the same run.
func BenchmarkEmbed3(b *testing.B) {
	db := NewDB(b, `
CREATE TABLE customers (id int PRIMARY KEY, name text);
CREATE TABLE orders (id int PRIMARY KEY, customer_id int REFERENCES customers(id), placed date);
CREATE TABLE products (id int PRIMARY KEY, name text);
CREATE TABLE lines (order_id int REFERENCES orders(id), product_id int REFERENCES products(id), qty int, PRIMARY KEY (order_id, product_id));
CREATE INDEX ON orders (customer_id);
INSERT INTO customers SELECT i, 'customer ' || i FROM generate_series(1, 1000) i;
INSERT INTO products SELECT i, 'product ' || i FROM generate_series(1, 50) i;
INSERT INTO orders SELECT i, (i - 1) / 3 + 1, date '2024-01-01' + i % 365 FROM generate_series(1, 3000) i;
INSERT INTO lines SELECT o, (o * 7 + k) % 50 + 1, k + 1 FROM generate_series(1, 3000) o, generate_series(0, 2) k;
ANALYZE;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO web_anon;
`)
	p := StartPgrest(b, db, nil)
	p.Get(embedBenchPath).Expect(b, 200)

	// The statement pgrest runs for this request, compiled the same way.
	req, aerr := request.Parse(httptest.NewRequest("GET", embedBenchPath, nil), request.Options{Schemas: []string{"public"}})
	if aerr != nil {
		b.Fatal(aerr)
	}
	plan, err := planner.New(16).Plan(req, p.App.Holder().Load(), planner.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	conn := superConn(b, db)
	if _, err := conn.Exec(ctx, "SET ROLE web_anon"); err != nil {
		b.Fatal(err)
	}

	b.ResetTimer()
	var inHTTP, inDB time.Duration
	var size int
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		r := p.Get(embedBenchPath)
		inHTTP += time.Since(t0)
		size = len(r.Body)
		t1 := time.Now()
		var body string
		var total, page, headers, status any
		var bytes []byte
		if err := conn.QueryRow(ctx, plan.SQL, plan.Args...).Scan(&total, &page, &body, &bytes, &headers, &status); err != nil {
			b.Fatal(err)
		}
		inDB += time.Since(t1)
	}
	b.StopTimer()
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) }
	b.ReportMetric(ms(inHTTP), "request-ms")
	b.ReportMetric(ms(inDB), "postgres-ms")
	b.ReportMetric(100*float64(inDB)/float64(inHTTP), "postgres-%")
	b.ReportMetric(float64(size)/1024, "body-KiB")
}

// BenchmarkPointRead is the hot path: a filtered single-row GET through
// HTTP, against the same SELECT sent directly with pgx in the same run.
func BenchmarkPointRead(b *testing.B) {
	db := NewDB(b, `
CREATE TABLE items (id int PRIMARY KEY, name text, price numeric);
INSERT INTO items SELECT i, 'item ' || i, i * 1.5 FROM generate_series(1, 10000) i;
ANALYZE;
GRANT SELECT ON items TO web_anon;
`)
	p := StartPgrest(b, db, nil)
	conn := superConn(b, db)
	ctx := context.Background()
	b.Run("pgrest", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			p.Get("/items?select=id,name,price&id=eq."+strconv.Itoa(i%10000+1)).Expect(b, 200)
		}
	})
	b.Run("postgres", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			var body string
			if err := conn.QueryRow(ctx, "SELECT coalesce(json_agg(t), '[]')::text FROM (SELECT id, name, price FROM items WHERE id = $1) t", i%10000+1).Scan(&body); err != nil {
				b.Fatal(err)
			}
		}
	})
}
