package cache

import (
	"regexp"
	"testing"
)

var (
	// harmless: casts of an oid, and of a constant pg_catalog name (its
	// USAGE belongs to PUBLIC).
	oidCasts = regexp.MustCompile(`\.oid::reg\w+|'pg_catalog\.\w+'::reg\w+`)
	// what resolves a name with a privilege check on its schema
	nameLookup = regexp.MustCompile(`to_reg\w+\s*\(|::reg\w+|has_\w+_privilege\s*\(`)
)

// Introspection finds objects by catalog joins and oids only: the
// authenticator usually has no USAGE on the schemas it introspects.
func TestIntrospectionUsesNoNameLookups(t *testing.T) {
	for name, sql := range map[string]string{
		"relations": relationsSQL, "columns": columnsSQL, "fk": fkSQL, "fkScoped": fkScopedSQL,
		"viewDeps": viewDepsFullSQL, "viewDepsScoped": viewDepsScopedSQL, "scopeBases": scopeBasesSQL,
		"relScope": relScope, "named": namedSQL, "dependentViews": dependentViewsSQL, "functions": functionsSQL, "handlers": handlersSQL,
		"representations": representationsSQL, "postgis": postgisSQL,
	} {
		if m := nameLookup.FindAllString(oidCasts.ReplaceAllString(sql, ""), -1); len(m) > 0 {
			t.Errorf("%s looks names up: %q", name, m)
		}
	}
}
