// Package migrations installs pgrest's DDL event log and event triggers
// (`pgrest migrate`). The SQL files are embedded and applied in name order,
// each once, recorded in pgrest.migrations.
package migrations

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"sort"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

//go:embed sql/*.sql
var files embed.FS

// lockKey serializes concurrent `pgrest migrate` runs.
const lockKey = 0x7067726573740001

// Apply installs or upgrades the event log idempotently and stores the
// notification channel. It returns the names of the files it applied.
func Apply(ctx context.Context, conn *pgx.Conn, channel string) ([]string, error) {
	var super bool
	var role string
	if err := conn.QueryRow(ctx, "SELECT rolsuper, rolname FROM pg_roles WHERE rolname = current_user").Scan(&super, &role); err != nil {
		return nil, err
	}
	if !super {
		return nil, fmt.Errorf("pgrest migrate: creating event triggers needs a superuser (role %q is not one); run it as a superuser, or rely on NOTIFY pgrst / pgrest-schema-poll-interval instead", role)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	if _, err = tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(lockKey)); err != nil {
		return nil, err
	}
	if _, err = tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS pgrest;
		CREATE TABLE IF NOT EXISTS pgrest.migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return nil, err
	}
	entries, err := files.ReadDir("sql")
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	var applied []string
	for _, n := range names {
		var done bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pgrest.migrations WHERE name = $1)", n).Scan(&done); err != nil {
			return nil, err
		}
		if done {
			continue
		}
		body, _ := files.ReadFile("sql/" + n)
		if _, err := tx.Exec(ctx, string(body)); err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) && pe.Code == "42501" {
				return nil, fmt.Errorf("pgrest migrate: %s: permission denied: %s", n, pe.Message)
			}
			return nil, fmt.Errorf("pgrest migrate: %s: %w", n, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO pgrest.migrations (name) VALUES ($1)", n); err != nil {
			return nil, err
		}
		applied = append(applied, n)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO pgrest.settings (name, value) VALUES ('channel', $1)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, channel); err != nil {
		return nil, err
	}
	return applied, tx.Commit(ctx)
}

// Querier is satisfied by pools, connections and transactions.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// LogInstalledSQL tells whether the event log exists, by a catalog join:
// to_regclass would fail for a role without USAGE on the pgrest schema.
const LogInstalledSQL = `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = 'pgrest' AND c.relname = 'ddl_events' AND c.relkind IN ('r', 'p'))`

// LatestEventID returns the newest event id; ok is false when the log is
// not installed.
func LatestEventID(ctx context.Context, q Querier) (id int64, ok bool, err error) {
	var exists bool
	if err = q.QueryRow(ctx, LogInstalledSQL).Scan(&exists); err != nil || !exists {
		return 0, false, err
	}
	err = q.QueryRow(ctx, "SELECT coalesce(max(id), 0) FROM pgrest.ddl_events").Scan(&id)
	return id, err == nil, err
}
