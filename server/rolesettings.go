package server

import (
	"context"
	"strings"
)

// roleSettings are the ALTER ROLE ... SET settings of the roles the
// authenticator can switch to. SET ROLE does not apply them, so PostgREST
// sets them in each request's transaction; default_transaction_isolation
// becomes the transaction's isolation level instead.
type roleSettings struct {
	settings  map[string]map[string]string
	isolation map[string]string
}

// roleSettingsQuery lists them for every role the authenticator is a member
// of, directly or not. Only settings the authenticator may set are kept
// (user settings, and on PostgreSQL 15+ the ones it was granted SET on):
// a superuser-only setting would fail every request of that role.
const roleSettingsQuery = `
WITH RECURSIVE member_of(oid) AS (
  SELECT m.roleid FROM pg_catalog.pg_auth_members m
  WHERE m.member = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user)
  UNION
  SELECT m.roleid FROM pg_catalog.pg_auth_members m JOIN member_of o ON m.member = o.oid
),
kv AS (
  SELECT r.rolname, split_part(c, '=', 1) AS k, substr(c, strpos(c, '=') + 1) AS v
  FROM member_of o
  JOIN pg_catalog.pg_roles r ON r.oid = o.oid
  CROSS JOIN LATERAL unnest(r.rolconfig) AS c
)
SELECT kv.rolname, kv.k, kv.v FROM kv
JOIN pg_catalog.pg_settings ps ON ps.name = kv.k
WHERE ps.context = 'user' OR (ps.context = 'superuser' AND %s)`

func impersonationSettingsSQL(serverVersion int) string {
	cond := "false"
	if serverVersion >= 150000 {
		cond = "pg_catalog.has_parameter_privilege(kv.k, 'SET')"
	}
	return strings.Replace(roleSettingsQuery, "%s", cond, 1)
}

// loadRoleSettings reads the role settings (at start and on every config
// reload, as PostgREST does). On an error the previous ones stay.
func (a *App) loadRoleSettings(ctx context.Context) error {
	conn, err := a.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	var num int
	if verr := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&num); verr != nil {
		return verr
	}
	rows, err := conn.Query(ctx, impersonationSettingsSQL(num))
	if err != nil {
		return err
	}
	defer rows.Close()
	rs := &roleSettings{settings: map[string]map[string]string{}, isolation: map[string]string{}}
	for rows.Next() {
		var role, k, v string
		if err := rows.Scan(&role, &k, &v); err != nil {
			return err
		}
		if k == "default_transaction_isolation" {
			rs.isolation[role] = v
			continue
		}
		if rs.settings[role] == nil {
			rs.settings[role] = map[string]string{}
		}
		rs.settings[role][k] = v
	}
	if err := rows.Err(); err != nil {
		return err
	}
	a.roleSettings.Store(rs)
	return nil
}

// settingsOf is the role's settings and isolation level ("" for none).
func (a *App) settingsOf(role string) (map[string]string, string) {
	rs := a.roleSettings.Load()
	if rs == nil {
		return nil, ""
	}
	return rs.settings[role], rs.isolation[role]
}
