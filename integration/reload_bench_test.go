package integration

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// BenchmarkDDLToVisible measures the time from the commit of an ALTER TABLE
// to a schema cache that reflects it, on a schema of PGREST_BENCH_TABLES
// tables (default 1000). It reports p50 and p99 in milliseconds.
func BenchmarkDDLToVisible(b *testing.B) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("PGREST_BENCH_TABLES")); err == nil && v > 0 {
		n = v
	}
	db := NewDB(b, "")
	// In chunks: one transaction creating 10,000 tables runs out of locks.
	for lo := 0; lo < n; lo += 500 {
		var sb strings.Builder
		for i := lo; i < n && i < lo+500; i++ {
			fk := ""
			if i > 0 {
				fk = fmt.Sprintf(", parent_id int REFERENCES t%d(id)", i-1)
			}
			fmt.Fprintf(&sb, "CREATE TABLE t%d (id int PRIMARY KEY, name text%s);\n", i, fk)
		}
		SQL(b, db, sb.String())
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg.URI("postgres", db))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	migrateConn(b, conn)
	p := StartPgrest(b, db, nil)
	col := 0
	for _, mode := range []string{"incremental", "full"} {
		b.Run(mode, func(b *testing.B) {
			measureDDL(b, conn, p, n, &col, mode == "full")
		})
	}
}

// measureDDL times ALTER TABLE commits until the schema cache reflects
// them: through the event listener (incremental), or by a full reload.
func measureDDL(b *testing.B, conn *pgx.Conn, p *Pgrest, n int, col *int, full bool) {
	ctx := context.Background()
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		*col++
		var ev int64
		start := time.Now()
		if _, err := conn.Exec(ctx, fmt.Sprintf("ALTER TABLE t%d ADD COLUMN c%d int", *col%n, *col)); err != nil {
			b.Fatal(err)
		}
		if err := conn.QueryRow(ctx, "SELECT max(id) FROM pgrest.ddl_events").Scan(&ev); err != nil {
			b.Fatal(err)
		}
		if full {
			if err := p.App.Schema().ReloadNow(ctx); err != nil {
				b.Fatal(err)
			}
		}
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, ok := p.App.Holder().WaitVersion(wctx, ev)
		cancel()
		if !ok {
			b.Fatal("change not visible within 30s")
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[(len(lat)*99)/100]), "p99-ms")
	b.ReportMetric(float64(n), "tables")
}

// A DDL transaction that takes its event id, then commits after later
// events were applied, is still picked up: its id was a hole below the
// applied version, and the NOTIFY at its commit reads the holes.
func TestReloadLateEvent(t *testing.T) {
	db := NewDB(t, `CREATE TABLE a (id int);`)
	migrate(t, db)
	p := StartPgrest(t, db, nil)
	ctx := context.Background()
	slow := superConn(t, db)
	tx, err := slow.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `CREATE TABLE late (id int)`); err != nil {
		t.Fatal(err)
	}
	SQL(t, db, `CREATE TABLE early (id int)`)
	ev := latestEvent(t, db)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	s, ok := p.App.Holder().WaitVersion(wctx, ev)
	if !ok || s.Relation("public", "early") == nil {
		t.Fatal("the early table did not reach the schema cache")
	}
	if s.Relation("public", "late") != nil {
		t.Fatal("an uncommitted table reached the schema cache")
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for p.App.Holder().Load().Relation("public", "late") == nil {
		if wctx.Err() != nil {
			t.Fatal("the late-committing table did not reach the schema cache")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if v := p.App.Holder().Load().Version; v < ev {
		t.Fatalf("version went back to %d, below %d", v, ev)
	}
}
