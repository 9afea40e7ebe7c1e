package cache

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/pgrest/pgrest/embedpg"
	"github.com/pgrest/pgrest/migrations"
)

// TestRefreshMatchesLoad is the incremental rebuild's oracle: random DDL
// sequences, and after each step the snapshot derived from the previous one
// and the step's events equals a full load.
func TestRefreshMatchesLoad(t *testing.T) {
	ctx := context.Background()
	c, err := embedpg.Start(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Remove()
	conn, err := pgx.Connect(ctx, c.URI("postgres", "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err = migrations.Apply(ctx, conn, "pgrst"); err != nil {
		t.Fatal(err)
	}
	// Introspection runs as PostgREST's recommended authenticator: no
	// USAGE on the schemas it reads, only catalogs.
	if _, err = conn.Exec(ctx, `CREATE SCHEMA api; CREATE SCHEMA private;
		CREATE ROLE authenticator LOGIN NOINHERIT; CREATE ROLE web_anon; GRANT web_anon TO authenticator;
		GRANT USAGE ON SCHEMA api TO web_anon`); err != nil {
		t.Fatal(err)
	}
	auth, err := pgx.Connect(ctx, c.URI("authenticator", "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer auth.Close(ctx)
	schemas := []string{"api"}
	seed := int64(42)
	if s := os.Getenv("PGREST_PROPERTY_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	rng := rand.New(rand.NewSource(seed))
	var tables, views, cols []string
	last := int64(0)
	old, err := Load(ctx, auth, schemas)
	if err != nil {
		t.Fatal(err)
	}
	pick := func(xs []string) string { return xs[rng.Intn(len(xs))] }
	for step := 0; step < 120; step++ {
		var ddl string
		n := fmt.Sprint(step)
		switch op := rng.Intn(13); {
		case op == 12 && len(cols) > 0:
			// A view over the table shows the column under its old name.
			i := rng.Intn(len(cols))
			j := strings.LastIndexByte(cols[i], '.')
			ddl = "ALTER TABLE IF EXISTS " + cols[i][:j] + " RENAME COLUMN " + cols[i][j+1:] + " TO " + cols[i][j+1:] + "r"
			cols[i] += "r"
		case op == 11 && len(tables) > 0:
			// A move in or out of the exposed schema: its event names
			// only where the table went.
			i := rng.Intn(len(tables))
			schema, name, _ := strings.Cut(tables[i], ".")
			to := map[string]string{"api": "private", "private": "api"}[schema]
			ddl = "ALTER TABLE " + tables[i] + " SET SCHEMA " + to
			for j, c := range cols {
				if strings.HasPrefix(c, tables[i]+".") {
					cols[j] = to + "." + strings.TrimPrefix(c, schema+".")
				}
			}
			tables[i] = to + "." + name
		case op == 9 && len(tables) > 0:
			name := "api.j" + n
			ddl = "CREATE TABLE " + name + " (a int REFERENCES " + pick(tables) + "(id), b int REFERENCES " + pick(tables) + "(id), PRIMARY KEY (a, b))"
		case op == 10 && len(tables) > 0:
			v := "api.w" + n
			ddl = "CREATE VIEW " + v + " AS SELECT * FROM " + pick(tables)
			views = append(views, v)
		case op <= 1 || len(tables) == 0:
			schema := "api"
			if rng.Intn(4) == 0 {
				schema = "private"
			}
			name := schema + ".t" + n
			fk := ""
			if len(tables) > 0 && rng.Intn(2) == 0 {
				fk = ", ref int REFERENCES " + pick(tables) + "(id)"
			}
			ddl = "CREATE TABLE " + name + " (id int PRIMARY KEY, v text" + fk + ")"
			tables = append(tables, name)
		case op == 2:
			col := "c" + n
			tbl := pick(tables)
			ddl = "ALTER TABLE IF EXISTS " + tbl + " ADD COLUMN " + col + " int"
			cols = append(cols, tbl+"."+col)
		case op == 3 && len(cols) > 0:
			i := rng.Intn(len(cols))
			tc := cols[i]
			cols = append(cols[:i], cols[i+1:]...)
			var tbl, col string
			for j := len(tc) - 1; j >= 0; j-- {
				if tc[j] == '.' {
					tbl, col = tc[:j], tc[j+1:]
					break
				}
			}
			ddl = "ALTER TABLE IF EXISTS " + tbl + " DROP COLUMN IF EXISTS " + col + " CASCADE"
		case op == 4:
			v := "api.v" + n
			ddl = "CREATE VIEW " + v + " AS SELECT id, v FROM " + pick(tables)
			views = append(views, v)
		case op == 5 && len(views) > 0:
			i := rng.Intn(len(views))
			ddl = "DROP VIEW IF EXISTS " + views[i]
			views = append(views[:i], views[i+1:]...)
		case op == 6:
			ddl = "CREATE OR REPLACE FUNCTION api.f" + n + "(a int) RETURNS int LANGUAGE sql AS 'SELECT a'"
		case op == 7:
			a, b := pick(tables), pick(tables)
			ddl = "ALTER TABLE " + a + " ADD COLUMN r" + n + " int REFERENCES " + b + "(id)"
		default:
			i := rng.Intn(len(tables))
			ddl = "DROP TABLE IF EXISTS " + tables[i] + " CASCADE"
			tables = append(tables[:i], tables[i+1:]...)
			if len(tables) == 0 {
				tables = nil
			}
		}
		if _, err := conn.Exec(ctx, ddl); err != nil {
			t.Fatalf("step %d %q: %v", step, ddl, err)
		}
		rows, err := conn.Query(ctx, `SELECT id, command_tag, coalesce(object_type, ''), coalesce(object_identity, ''), coalesce(schema_name, '')
			FROM pgrest.ddl_events WHERE id > $1 ORDER BY id`, last)
		if err != nil {
			t.Fatal(err)
		}
		events, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Event, error) {
			var e Event
			return e, r.Scan(&e.ID, &e.CommandTag, &e.ObjectType, &e.ObjectIdentity, &e.Schema)
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(events) > 0 {
			last = events[len(events)-1].ID
		}
		full, err := Load(ctx, auth, schemas)
		if err != nil {
			t.Fatal(err)
		}
		rels, fns, ok := Changes(events)
		if !ok {
			t.Logf("step %d %q: full reload (%v)", step, ddl, events)
			old = full
			continue
		}
		inc, err := Refresh(ctx, auth, old, rels, fns)
		if errors.Is(err, ErrFullLoad) {
			t.Logf("step %d %q: full reload (renamed or moved)", step, ddl)
			old = full
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		a, _ := inc.Dump()
		b, _ := full.Dump()
		if string(a) != string(b) {
			t.Fatalf("step %d %q: incremental snapshot differs from a full load\nchanged %v\nincremental:\n%s\nfull:\n%s", step, ddl, rels, a, b)
		}
		old = inc
	}
}
