package migrations

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Publication creates (or re-points) the publication realtime streams:
// every table of the exposed schemas, including tables created later.
// It reports whether it created the publication.
func Publication(ctx context.Context, conn *pgx.Conn, name string, schemas []string) (bool, error) {
	quoted := make([]string, len(schemas))
	for i, s := range schemas {
		quoted[i] = pgx.Identifier{s}.Sanitize()
	}
	list := strings.Join(quoted, ", ")
	pub := pgx.Identifier{name}.Sanitize()
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)", name).Scan(&exists); err != nil {
		return false, err
	}
	if exists {
		_, err := conn.Exec(ctx, "ALTER PUBLICATION "+pub+" SET TABLES IN SCHEMA "+list)
		return false, err
	}
	_, err := conn.Exec(ctx, "CREATE PUBLICATION "+pub+" FOR TABLES IN SCHEMA "+list)
	return err == nil, err
}
