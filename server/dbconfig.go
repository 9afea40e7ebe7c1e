package server

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/pgrest/pgrest/server/config"
)

// roleSettingsSQL reads the pgrst.* settings of the authenticator role
// (ALTER ROLE ... SET pgrst.db_schemas = ...); a database-specific one
// wins over one for all databases.
const roleSettingsSQL = `
WITH settings AS (
  SELECT s.setdatabase, unnest(s.setconfig) AS setting
  FROM pg_catalog.pg_db_role_setting s
  WHERE s.setrole = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user)
    AND s.setdatabase IN (0, (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_catalog))
)
SELECT DISTINCT ON (key) substr(split_part(setting, '=', 1), 7) AS key, substr(setting, strpos(setting, '=') + 1)
FROM settings WHERE setting LIKE 'pgrst.%'
ORDER BY key, setdatabase DESC`

// preConfigSQL reads what db-pre-config set with set_config('pgrst.<key>').
const preConfigSQL = `
SELECT k, current_setting('pgrst.' || k, true) FROM unnest($1::text[]) AS k
WHERE coalesce(current_setting('pgrst.' || k, true), '') <> ''`

// inDatabase are the keys PostgREST v16 reads from pgrst.* role settings
// and db-pre-config; every other key (the connection, listening sockets,
// logging) only the file and the environment can set.
var inDatabase = map[string]bool{
	"db-aggregates-enabled": true, "client-error-verbosity": true, "db-anon-role": true,
	"db-pre-config": true, "db-extra-search-path": true, "db-max-rows": true, "db-plan-enabled": true,
	"db-pre-request": true, "db-prepared-statements": true, "db-root-spec": true, "db-schemas": true,
	"db-tx-end": true, "db-hoisted-tx-settings": true, "jwt-aud": true, "jwt-role-claim-key": true,
	"jwt-secret": true, "jwt-secret-is-base64": true, "jwt-cache-max-entries": true, "openapi-mode": true,
	"openapi-security-active": true, "openapi-server-proxy-uri": true, "server-cors-allowed-origins": true,
	"server-trace-header": true, "server-timing-enabled": true,
}

// SetConfigSource sets how a config reload reads the file and the
// environment (main passes config.Load with the file's path).
func (a *App) SetConfigSource(load func() (*config.Config, error)) { a.configSource = load }

// ReloadConfig re-reads the file and environment, then the in-database
// configuration over them (db-config, db-pre-config), and swaps it in.
// On any error the current configuration stays.
func (a *App) ReloadConfig(ctx context.Context) error {
	if err := a.loadConfig(ctx); err != nil {
		return err
	}
	if err := a.loadRoleSettings(ctx); err != nil {
		a.log.Log().Msg("Failed to query the role settings. " + dbErrorText(err))
	}
	a.log.Log().Msg("Config reloaded")
	WarnDeprecated(a.log, a.config())
	return nil
}

// loadConfig is ReloadConfig without the log line, for the first read.
func (a *App) loadConfig(ctx context.Context) error {
	base := a.baseConfig.Clone()
	if a.configSource != nil {
		c, err := a.configSource()
		if err != nil {
			return err
		}
		base = c
	}
	cfg, err := a.withDatabaseConfig(ctx, base)
	if err != nil {
		return err
	}
	old := a.config()
	if err := a.SetConfig(cfg); err != nil {
		return err
	}
	if strings.Join(old.DBSchemas, ",") != strings.Join(cfg.DBSchemas, ",") {
		a.schema.SetSchemas(cfg.DBSchemas)
	}
	return nil
}

// DatabaseConfig is the file and environment configuration with the
// in-database one applied (--dump-config shows it, as PostgREST's does).
func (a *App) DatabaseConfig(ctx context.Context) (*config.Config, error) {
	return a.withDatabaseConfig(ctx, a.baseConfig)
}

// withDatabaseConfig applies the in-database settings over base.
func (a *App) withDatabaseConfig(ctx context.Context, base *config.Config) (*config.Config, error) {
	cfg := base.Clone()
	if !cfg.DBConfig && cfg.DBPreConfig == "" {
		return cfg, nil
	}
	tx, err := a.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	var roleSettings [][2]string
	if cfg.DBConfig {
		if roleSettings, err = readSettings(ctx, tx, roleSettingsSQL); err != nil {
			return nil, err
		}
		if err := applySettings(cfg, roleSettings); err != nil {
			return nil, err
		}
	}
	if cfg.DBPreConfig != "" {
		if _, err := tx.Exec(ctx, "SELECT "+quoteQualified(cfg.DBPreConfig)+"()"); err != nil {
			return nil, fmt.Errorf("db-pre-config: %w", err)
		}
		var names []string
		for _, n := range config.Names() {
			names = append(names, strings.ReplaceAll(n, "-", "_"))
		}
		pre, err := readSettings(ctx, tx, preConfigSQL, names)
		if err != nil {
			return nil, err
		}
		// PostgREST gives the role settings precedence over what
		// db-pre-config sets, so they are applied again on top.
		if err := applySettings(cfg, pre); err != nil {
			return nil, err
		}
		if err := applySettings(cfg, roleSettings); err != nil {
			return nil, err
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// readSettings reads (name, value) rows of in-database settings, keeping
// the keys v16 reads from the database.
func readSettings(ctx context.Context, tx pgx.Tx, sql string, args ...any) ([][2]string, error) {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var kvs [][2]string
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		key := strings.ReplaceAll(k, "_", "-")
		if strings.HasPrefix(k, "app.settings.") {
			key = k
		}
		if inDatabase[key] {
			kvs = append(kvs, [2]string{key, v})
		}
	}
	return kvs, rows.Err()
}

// applySettings sets each in-database setting on cfg.
func applySettings(cfg *config.Config, kvs [][2]string) error {
	for _, kv := range kvs {
		if err := cfg.Set(kv[0], kv[1]); err != nil {
			return fmt.Errorf("in-database config: %w", err)
		}
	}
	return nil
}
