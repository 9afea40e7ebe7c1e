package cache

import (
	"strings"

	"github.com/jackc/pgx/v5"
)

// Representation is how a domain is shown and read (domain
// representations): each field names the function of a cast defined in
// the database, nil when there is none.
type Representation struct {
	ToJSON   *QI `json:"to_json"`   // domain -> json: output
	FromText *QI `json:"from_text"` // text -> domain: filter values
	FromJSON *QI `json:"from_json"` // json -> domain: request bodies
}

// IsMediaType reports whether a type name is written like a media type,
// which makes a domain of that name a media type handler's result.
func IsMediaType(name string) bool {
	t, sub, ok := strings.Cut(name, "/")
	return ok && t != "" && sub != "" && !strings.ContainsAny(name, " \t,;")
}

// Aggregates whose result is a media-type domain, taking a relation's row
// type (or anyelement) from the exposed schemas.
const handlersSQL = `
SELECT pn.nspname, p.proname, t.typname, bt.typname = 'bytea',
  coalesce(an.nspname, ''), coalesce(ac.relname, '')
FROM pg_aggregate ag
JOIN pg_proc p ON p.oid = ag.aggfnoid
JOIN pg_namespace pn ON pn.oid = p.pronamespace
JOIN pg_type t ON t.oid = p.prorettype AND t.typtype = 'd'
JOIN pg_type bt ON bt.oid = t.typbasetype
LEFT JOIN pg_type at ON at.oid = p.proargtypes[0]
LEFT JOIN pg_class ac ON ac.oid = at.typrelid
LEFT JOIN pg_namespace an ON an.oid = ac.relnamespace
WHERE pn.nspname = ANY($1) AND p.pronargs = 1 AND t.typname LIKE '%/%'
  AND (ac.oid IS NOT NULL OR p.proargtypes[0] = 'pg_catalog.anyelement'::regtype)`

// Casts from or to domains, with the function that performs them.
const representationsSQL = `
SELECT format_type(d.oid, NULL), CASE WHEN c.castsource = d.oid THEN 'to_json'
    WHEN c.castsource = 'pg_catalog.text'::regtype THEN 'from_text' ELSE 'from_json' END,
  fn.nspname, f.proname
FROM pg_cast c
JOIN pg_type d ON d.typtype = 'd' AND (d.oid = c.castsource OR d.oid = c.casttarget)
JOIN pg_proc f ON f.oid = c.castfunc
JOIN pg_namespace fn ON fn.oid = f.pronamespace
WHERE (c.castsource = d.oid AND c.casttarget = 'pg_catalog.json'::regtype)
   OR (c.casttarget = d.oid AND c.castsource IN ('pg_catalog.text'::regtype, 'pg_catalog.json'::regtype))`

const postgisSQL = `
SELECT coalesce((SELECT n.nspname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
  WHERE p.proname = 'st_asgeojson' AND p.proargtypes[0] = 'pg_catalog.record'::regtype LIMIT 1), '')`

// queueMedia reads media type handlers, domain representations and
// PostGIS: small catalogs, read whole on every load.
func queueMedia(b *pgx.Batch, s *Snapshot, schemas []string) {
	s.MediaHandlers = nil
	s.Representations = map[string]*Representation{}
	b.Queue(handlersSQL, schemas).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var h MediaHandler
			if err := rows.Scan(&h.Function.Schema, &h.Function.Name, &h.MediaType, &h.Binary, &h.Relation.Schema, &h.Relation.Name); err != nil {
				return err
			}
			s.MediaHandlers = append(s.MediaHandlers, h)
		}
		return rows.Err()
	})
	b.Queue(representationsSQL).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var typ, kind string
			var fn QI
			if err := rows.Scan(&typ, &kind, &fn.Schema, &fn.Name); err != nil {
				return err
			}
			r := s.Representations[typ]
			if r == nil {
				r = &Representation{}
				s.Representations[typ] = r
			}
			switch kind {
			case "to_json":
				r.ToJSON = &fn
			case "from_text":
				r.FromText = &fn
			default:
				r.FromJSON = &fn
			}
		}
		return rows.Err()
	})
	b.Queue(postgisSQL).QueryRow(func(r pgx.Row) error { return r.Scan(&s.PostGIS) })
}

// Handlers lists the aggregates that can render rows of rel, the
// relation's own before the any-relation ones.
func (s *Snapshot) Handlers(rel QI) []MediaHandler {
	var own, any []MediaHandler
	for _, h := range s.MediaHandlers {
		switch h.Relation {
		case rel:
			own = append(own, h)
		case QI{}:
			any = append(any, h)
		}
	}
	return append(own, any...)
}
