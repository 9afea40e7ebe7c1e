package cache

import "strings"

// Event is one row of pgrest.ddl_events.
type Event struct {
	ID             int64
	CommandTag     string
	ObjectType     string
	ObjectIdentity string
	Schema         string
}

// Changes maps DDL events to what must be re-introspected: relations, and
// whether functions changed. ok is false when an event is outside what an
// incremental rebuild handles (types, schemas, indexes, …): reload fully.
func Changes(events []Event) (rels []QI, functions bool, ok bool) {
	seen := map[QI]bool{}
	// A table's row type and array type come and go with the table; only
	// a type change of its own (an enum value, a domain) needs a full load.
	tableish := map[string]bool{}
	for _, e := range events {
		switch e.ObjectType {
		case "table", "view", "materialized view", "foreign table":
			tableish[e.ObjectIdentity] = true
		}
	}
	add := func(qi QI) {
		if !seen[qi] {
			seen[qi] = true
			rels = append(rels, qi)
		}
	}
	for _, e := range events {
		if e.CommandTag == "GRANT" || e.CommandTag == "REVOKE" {
			// Privileges are not cached (each request's role meets them
			// in the database); their events name no object anyway.
			continue
		}
		switch e.ObjectType {
		case "table", "view", "materialized view", "foreign table":
			parts := splitIdentity(e.ObjectIdentity)
			if len(parts) != 2 {
				return nil, false, false
			}
			add(QI{parts[0], parts[1]})
		case "table column", "view column", "materialized view column", "foreign table column":
			parts := splitIdentity(e.ObjectIdentity)
			if len(parts) != 3 {
				return nil, false, false
			}
			add(QI{parts[0], parts[1]})
		case "table constraint":
			// "name on schema.table"
			i := strings.LastIndex(e.ObjectIdentity, " on ")
			if i < 0 {
				return nil, false, false
			}
			parts := splitIdentity(e.ObjectIdentity[i+4:])
			if len(parts) != 2 {
				return nil, false, false
			}
			add(QI{parts[0], parts[1]})
		case "function", "procedure", "aggregate":
			functions = true
		case "type":
			if !tableish[strings.TrimSuffix(e.ObjectIdentity, "[]")] {
				return nil, false, false
			}
		case "", "index":
			// Indexes matter only through uniqueness, which every refresh
			// recomputes with the foreign keys, and primary keys come with
			// a table event.
		case "trigger", "policy", "sequence", "rule", "default value", "toast table":
			// Not part of the schema cache.
		default:
			return nil, false, false
		}
	}
	return rels, functions, true
}

// splitIdentity splits a quote_ident-ed dotted name.
func splitIdentity(s string) []string {
	var parts []string
	var cur strings.Builder
	quoted := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' && quoted && i+1 < len(s) && s[i+1] == '"':
			cur.WriteByte('"')
			i++
		case c == '"':
			quoted = !quoted
		case c == '.' && !quoted:
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(parts, cur.String())
}
