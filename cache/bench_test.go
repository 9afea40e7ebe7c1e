package cache

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/pgrest/pgrest/embedpg"
)

// BenchmarkLoad measures a full schema-cache load of a generated schema:
// N tables, each with a foreign key to the previous one, plus a view every
// tenth table. N is 1000, or PGREST_BENCH_TABLES (e.g. 10000).
func BenchmarkLoad(b *testing.B) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("PGREST_BENCH_TABLES")); err == nil && v > 0 {
		n = v
	}
	ctx := context.Background()
	c, err := embedpg.Start(ctx, map[string]string{"max_locks_per_transaction": "1024"})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Remove()
	var sb strings.Builder
	sb.WriteString("CREATE SCHEMA bench;\n")
	for i := 0; i < n; i++ {
		fk := ""
		if i > 0 {
			fk = fmt.Sprintf(", parent_id int REFERENCES bench.t%d(id)", i-1)
		}
		fmt.Fprintf(&sb, "CREATE TABLE bench.t%d (id int PRIMARY KEY, name text, created timestamptz%s);\n", i, fk)
		if i%10 == 0 {
			fmt.Fprintf(&sb, "CREATE VIEW bench.v%d AS SELECT * FROM bench.t%d;\n", i, i)
		}
	}
	if err = c.Exec(ctx, "postgres", sb.String()); err != nil {
		b.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, c.URI("postgres", "postgres"))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := Load(ctx, conn, []string{"bench"})
		if err != nil {
			b.Fatal(err)
		}
		if len(s.Relations) < n {
			b.Fatalf("loaded %d relations, want at least %d", len(s.Relations), n)
		}
	}
	b.ReportMetric(float64(n), "tables")
}
