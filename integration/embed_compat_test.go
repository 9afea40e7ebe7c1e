package integration

import (
	"testing"

	"github.com/pgrest/pgrest/server/config"
)

// A small garden: plots belong to gardeners, crops grow on plots, each crop
// has at most one harvest, helpers work plots through a junction.
const gardenFixture = `
CREATE TABLE gardeners (id int PRIMARY KEY, name text, mentor_id int REFERENCES gardeners(id));
CREATE TABLE plots (id int PRIMARY KEY, label text, owner_id int REFERENCES gardeners(id),
  backup_id int, CONSTRAINT plots_backup_fk FOREIGN KEY (backup_id) REFERENCES gardeners(id));
CREATE TABLE kinds (id int PRIMARY KEY, kind text);
CREATE TABLE crops (id int PRIMARY KEY, name text, plot_id int REFERENCES plots(id), kind_id int REFERENCES kinds(id));
CREATE TABLE harvests (crop_id int PRIMARY KEY REFERENCES crops(id), kilos numeric);
CREATE TABLE helpers (id int PRIMARY KEY, name text);
CREATE TABLE shifts (helper_id int REFERENCES helpers(id), plot_id int REFERENCES plots(id), PRIMARY KEY (helper_id, plot_id));
CREATE FUNCTION gardeners(plots) RETURNS SETOF gardeners LANGUAGE sql STABLE ROWS 1 AS
  $$ SELECT * FROM gardeners WHERE id = $1.backup_id $$;

INSERT INTO gardeners VALUES (1, 'Ana', NULL), (2, 'Ben', 1), (3, 'Cy', 1);
INSERT INTO plots VALUES (10, 'north', 1, 2), (11, 'south', 2, 3), (12, 'east', 3, NULL);
INSERT INTO kinds VALUES (1, 'root'), (2, 'leaf');
INSERT INTO crops VALUES (100, 'carrot', 10, 1), (101, 'kale', 10, 2), (102, 'beet', 11, 1), (103, 'chard', 11, 2);
INSERT INTO harvests VALUES (100, 5.50), (101, 2.25), (102, 4.00), (103, NULL);
INSERT INTO helpers VALUES (1, 'Dee'), (2, 'Eli');
INSERT INTO shifts VALUES (1, 10), (1, 11), (2, 11);
GRANT SELECT ON ALL TABLES IN SCHEMA public TO web_anon;
`

// Relationship resolution follows PostgREST: targets by table, foreign key
// column or constraint; hints by constraint, either side's column or
// junction; self references; computed relationships override foreign keys.
func TestEmbedCompatResolution(t *testing.T) {
	db := NewDB(t, gardenFixture)
	p := StartPgrest(t, db, nil)
	// a column of the foreign key as target, aliased next to the column itself
	p.Get("/crops?select=name,plot_id,plot:plot_id(label)&id=eq.100").Expect(t, 200).
		JSONEq(t, `[{"name":"carrot","plot_id":10,"plot":{"label":"north"}}]`)
	// the constraint as target
	p.Get("/crops?select=name,crops_kind_id_fkey(kind)&id=eq.101").Expect(t, 200).
		JSONEq(t, `[{"name":"kale","crops_kind_id_fkey":{"kind":"leaf"}}]`)
	// hints by the referenced column's name and by the referencing one
	p.Get("/crops?select=name,kinds!id(kind)&id=eq.102").Expect(t, 200).
		JSONEq(t, `[{"name":"beet","kinds":{"kind":"root"}}]`)
	// the computed relationship gardeners(plots) replaces both foreign keys
	p.Get("/plots?select=label,gardeners(name)&id=eq.10").Expect(t, 200).
		JSONEq(t, `[{"label":"north","gardeners":{"name":"Ben"}}]`)
	// self reference: parent by column name, children by table name + hint
	p.Get("/gardeners?select=name,mentor:mentor_id(name)&id=eq.2").Expect(t, 200).
		JSONEq(t, `[{"name":"Ben","mentor":{"name":"Ana"}}]`)
	p.Get("/gardeners?select=name,mentees:gardeners!mentor_id(name)&id=eq.1&mentees.order=id").Expect(t, 200).
		JSONEq(t, `[{"name":"Ana","mentees":[{"name":"Ben"},{"name":"Cy"}]}]`)
	p.Get("/gardeners?select=name,gardeners(name)&id=eq.3").Expect(t, 200).
		JSONEq(t, `[{"name":"Cy","gardeners":[]}]`)
	// many-to-many, and its junction as hint
	p.Get("/helpers?select=name,plots!shifts(label)&id=eq.2").Expect(t, 200).
		JSONEq(t, `[{"name":"Eli","plots":[{"label":"south"}]}]`)

	want := `{"code":"PGRST201","message":"Could not embed because more than one relationship was found for 'gardeners' and 'plots'",` +
		`"details":[{"cardinality":"one-to-many","embedding":"gardeners with plots","relationship":"plots_backup_fk using gardeners(id) and plots(backup_id)"},` +
		`{"cardinality":"one-to-many","embedding":"gardeners with plots","relationship":"plots_owner_id_fkey using gardeners(id) and plots(owner_id)"}],` +
		`"hint":"Try changing 'plots' to one of the following: 'plots!plots_backup_fk', 'plots!plots_owner_id_fkey'. Find the desired relationship in the 'details' key."}`
	p.Get("/gardeners?select=plots(label)").Expect(t, 300).JSONEq(t, want)
	p.Get("/crops?select=kinds!nope(kind)").Expect(t, 400).JSONEq(t, `{"code":"PGRST200","hint":null,
		"message":"Could not find a relationship between 'crops' and 'kinds' in the schema cache",
		"details":"Searched for a foreign key relationship between 'crops' and 'kinds' using the hint 'nope' in the schema 'public', but no matches were found."}`)
	p.Get("/crops?select=kindz(kind)").Expect(t, 400).JSONEq(t, `{"code":"PGRST200","details":"Searched for a foreign key relationship between 'crops' and 'kindz' in the schema 'public', but no matches were found.",
		"hint":"Perhaps you meant 'kinds' instead of 'kindz'.","message":"Could not find a relationship between 'crops' and 'kindz' in the schema cache"}`)
}

// Spreads take any select item: aliases, casts, nested embeds and spreads;
// to-many spreads give one array per column.
func TestEmbedCompatSpreads(t *testing.T) {
	db := NewDB(t, gardenFixture)
	p := StartPgrest(t, db, nil)
	p.Get("/crops?select=name,...plots(where:label,owner:owner_id::text,...gardeners(backup:name))&id=eq.100").Expect(t, 200).
		JSONEq(t, `[{"name":"carrot","where":"north","owner":"1","backup":"Ben"}]`)
	p.Get("/crops?select=name,...harvests(kilos,crops(name))&id=eq.103").Expect(t, 200).
		JSONEq(t, `[{"name":"chard","kilos":null,"crops":{"name":"chard"}}]`)
	// to-many: arrays in the embed's order, [] when none, [null] for a null value
	p.Get("/plots?select=label,...crops(crop:name,...harvests(kilos))&order=id&crops.order=name").Expect(t, 200).
		JSONEq(t, `[{"label":"north","crop":["carrot","kale"],"kilos":[5.50,2.25]},{"label":"south","crop":["beet","chard"],"kilos":[4.00,null]},{"label":"east","crop":[],"kilos":[]}]`)
	// to-many inside to-many: arrays of arrays
	p.Get("/gardeners?select=id,...plots!owner_id(...crops(name))&id=in.(1,3)&order=id&plots.crops.order=name").Expect(t, 200).
		JSONEq(t, `[{"id":1,"name":[["carrot","kale"]]},{"id":3,"name":[[]]}]`)
	// !inner and an is.null filter keep or drop the parent rows
	p.Get("/plots?select=label,...crops!inner(name)&crops.name=eq.kale").Expect(t, 200).
		JSONEq(t, `[{"label":"north","name":["kale"]}]`)
	p.Get("/plots?select=label,...crops(name)&crops=is.null").Expect(t, 200).
		JSONEq(t, `[{"label":"east","name":[]}]`)
	// an empty spread only resolves the relationship
	p.Get("/crops?select=name,...plots()&id=eq.100").Expect(t, 200).JSONEq(t, `[{"name":"carrot"}]`)
	// a related order reads the spread's columns
	p.Get("/crops?select=name,...plots(where:label)&order=plots(where).desc,name").Expect(t, 200).
		JSONEq(t, `[{"name":"beet","where":"south"},{"name":"chard","where":"south"},{"name":"carrot","where":"north"},{"name":"kale","where":"north"}]`)
}

// Aggregates in to-one spreads apply at the embedding level, grouped by its
// other columns.
func TestEmbedCompatSpreadAggregates(t *testing.T) {
	db := NewDB(t, gardenFixture)
	p := StartPgrest(t, db, func(c *config.Config) { c.DBAggregatesEnabled = true })
	p.Get("/crops?select=...harvests(kilos.sum()),...kinds(kind)&order=kinds(kind)").Expect(t, 200).
		JSONEq(t, `[{"kind":"leaf","sum":2.25},{"kind":"root","sum":9.50}]`)
	p.Get("/crops?select=plot_id,...harvests(n:count())&order=plot_id").Expect(t, 200).
		JSONEq(t, `[{"plot_id":10,"n":2},{"plot_id":11,"n":2}]`)
	p.Get("/plots?select=label,crops(...kinds(kind),...harvests(kg:kilos.max()))&id=eq.11&crops.order=kinds(kind).desc").Expect(t, 200).
		JSONEq(t, `[{"label":"south","crops":[{"kind":"root","kg":4.00},{"kind":"leaf","kg":null}]}]`)
}

// Null filters on embeds work inside logic trees; a column that shares an
// embed's name is filtered as a column.
func TestEmbedCompatNullFilters(t *testing.T) {
	db := NewDB(t, gardenFixture)
	p := StartPgrest(t, db, nil)
	p.Get("/plots?select=label,crops(),shifts()&crops.name=eq.beet&shifts.helper_id=eq.1&or=(crops.not.is.null,shifts.not.is.null)&order=id").Expect(t, 200).
		JSONEq(t, `[{"label":"north"},{"label":"south"}]`)
	p.Get("/crops?select=name,plot_id(label)&plot_id=eq.10&order=id").Expect(t, 200).
		JSONEq(t, `[{"name":"carrot","plot_id":{"label":"north"}},{"name":"kale","plot_id":{"label":"north"}}]`)
	p.Get("/gardeners?select=name,mentees:gardeners!mentor_id(name)&order=mentees(name)").Expect(t, 400).JSONEq(t,
		`{"code":"PGRST118","details":"'gardeners' and 'mentees' do not form a many-to-one or one-to-one relationship","hint":null,"message":"A related order on 'mentees' is not possible"}`)
}

// Select parsing stops at an unbalanced ')'; an embed of empty embeds
// selects nothing. (Target names of aliased embeds: embed_target_compat_test.go.)
func TestEmbedCompatSelectShapes(t *testing.T) {
	db := NewDB(t, gardenFixture)
	p := StartPgrest(t, db, nil)
	p.Get("/crops?select=name,...plots(label))&id=eq.100").Expect(t, 200).
		JSONEq(t, `[{"name":"carrot","label":"north"}]`)
	p.Get("/crops?select=name,plots(gardeners(),kinds:shifts())&id=eq.100").Expect(t, 200).
		JSONEq(t, `[{"name":"carrot"}]`)
	p.Get("/crops?select=name->(x").Expect(t, 400).JSONEq(t, `{"code":"PGRST100","hint":null,
		"message":"\"failed to parse select parameter (name->(x)\" (line 1, column 7)",
		"details":"unexpected \"(\" expecting \"-\", digit or any non reserved character different from: .,>()"}`)
}

// Views stand for their tables: a view of a junction whose primary key it
// shows links many-to-many, also when the tables are private; a view that
// shows a key column under two names has a relationship for each name.
func TestEmbedCompatViewJunctions(t *testing.T) {
	db := NewDB(t, `
CREATE SCHEMA hidden;
CREATE TABLE hidden.songs (id int PRIMARY KEY, title text);
CREATE TABLE hidden.bands (id int PRIMARY KEY, name text);
CREATE TABLE hidden.plays (song_id int REFERENCES hidden.songs(id), band_id int REFERENCES hidden.bands(id), PRIMARY KEY (song_id, band_id));
CREATE VIEW songs AS SELECT * FROM hidden.songs;
CREATE VIEW bands AS SELECT * FROM hidden.bands;
CREATE VIEW plays AS SELECT * FROM hidden.plays;
CREATE TABLE notes (id int PRIMARY KEY);
CREATE TABLE note_refs (note_id int REFERENCES notes(id));
CREATE VIEW note_pairs AS SELECT note_id AS first_id, note_id AS second_id FROM note_refs;
INSERT INTO hidden.songs VALUES (1, 'one'), (2, 'two');
INSERT INTO hidden.bands VALUES (1, 'A'), (2, 'B');
INSERT INTO hidden.plays VALUES (1, 1), (2, 1), (2, 2);
INSERT INTO notes VALUES (7);
INSERT INTO note_refs VALUES (7);
GRANT SELECT ON ALL TABLES IN SCHEMA public TO web_anon;
GRANT USAGE ON SCHEMA hidden TO web_anon;
GRANT SELECT ON ALL TABLES IN SCHEMA hidden TO web_anon;
`)
	p := StartPgrest(t, db, nil)
	p.Get("/bands?select=name,songs(title)&order=id&songs.order=id").Expect(t, 200).
		JSONEq(t, `[{"name":"A","songs":[{"title":"one"},{"title":"two"}]},{"name":"B","songs":[{"title":"two"}]}]`)
	p.Get("/songs?select=title,bands!plays(name)&id=eq.1").Expect(t, 200).
		JSONEq(t, `[{"title":"one","bands":[{"name":"A"}]}]`)
	p.Get("/notes?select=id,note_pairs!second_id(first_id)").Expect(t, 200).
		JSONEq(t, `[{"id":7,"note_pairs":[{"first_id":7}]}]`)
	p.Get("/note_pairs?select=first_id,second_id(id)").Expect(t, 200).
		JSONEq(t, `[{"first_id":7,"second_id":{"id":7}}]`)
	p.Get("/notes?select=id,note_pairs(first_id)").Expect(t, 300)
}

// max-rows caps embedded levels of a read too.
func TestEmbedCompatMaxRows(t *testing.T) {
	db := NewDB(t, gardenFixture)
	p := StartPgrest(t, db, func(c *config.Config) { n := int64(1); c.DBMaxRows = &n })
	p.Get("/plots?select=label,crops(name)&id=eq.10&crops.order=id").Expect(t, 200).
		JSONEq(t, `[{"label":"north","crops":[{"name":"carrot"}]}]`)
	p.Get("/plots?select=label,...crops(name)&id=eq.11&crops.order=id").Expect(t, 200).
		JSONEq(t, `[{"label":"south","name":["beet"]}]`)
}

// A view over a view over a table keeps the table's relationships.
func TestEmbedCompatViewChains(t *testing.T) {
	db := NewDB(t, gardenFixture+`
CREATE VIEW plots_v AS SELECT * FROM plots;
CREATE VIEW plots_vv AS SELECT id AS plot, label FROM plots_v;
CREATE VIEW crops_v AS SELECT * FROM crops;
GRANT SELECT ON plots_v, plots_vv, crops_v TO web_anon;
`)
	p := StartPgrest(t, db, nil)
	p.Get("/plots_vv?select=label,crops_v(name)&plot=eq.11&crops_v.order=id").Expect(t, 200).
		JSONEq(t, `[{"label":"south","crops_v":[{"name":"beet"},{"name":"chard"}]}]`)
	p.Get("/crops_v?select=name,plots_vv(label)&id=eq.100").Expect(t, 200).
		JSONEq(t, `[{"name":"carrot","plots_vv":{"label":"north"}}]`)
}

// Double-quoted names in select keep the grammar's characters.
func TestEmbedCompatQuotedSelect(t *testing.T) {
	db := NewDB(t, `
CREATE TABLE odd (id int, "(a,b)" text, "x.y" int, ":c::d" text, " sp " text);
INSERT INTO odd VALUES (1, 'ab', 2, 'cd', 's');
GRANT SELECT ON odd TO web_anon;
`)
	p := StartPgrest(t, db, nil)
	p.Get(`/odd?select=%22(a,b)%22,%22x.y%22,%22:c::d%22,alias:%22%20sp%20%22`).Expect(t, 200).
		JSONEq(t, `[{"(a,b)":"ab","x.y":2,":c::d":"cd","alias":"s"}]`)
}

// Partitions are not relations of the API: their partitioned table is.
func TestEmbedCompatPartitions(t *testing.T) {
	db := NewDB(t, gardenFixture+`
CREATE TABLE visits (id int, at date, plot_id int REFERENCES plots(id), PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE visits_2024 PARTITION OF visits FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
INSERT INTO visits VALUES (1, '2024-03-01', 10);
GRANT SELECT ON visits, visits_2024 TO web_anon;
`)
	p := StartPgrest(t, db, nil)
	p.Get("/visits?select=id,plots(label)").Expect(t, 200).JSONEq(t, `[{"id":1,"plots":{"label":"north"}}]`)
	p.Get("/visits_2024?select=id").ExpectError(t, 404, "PGRST205")
}

// A path on a column that is not json reads through to_jsonb; a path
// ending in an array index is named by its last key, else the column.
func TestEmbedCompatPaths(t *testing.T) {
	db := NewDB(t, `
CREATE TYPE point2 AS (x numeric, y numeric);
CREATE TABLE shapes (id int PRIMARY KEY, corner point2, sides int[], meta jsonb);
INSERT INTO shapes VALUES (1, '(1.5,2)', '{3,4,5}', '{"tags":["a","b"]}'), (2, '(0.5,1)', '{6}', '{"tags":["c"]}');
GRANT SELECT ON shapes TO web_anon;
`)
	p := StartPgrest(t, db, nil)
	p.Get("/shapes?select=corner->x,sides->0,meta->tags->>1&order=id").Expect(t, 200).
		JSONEq(t, `[{"x":1.5,"sides":3,"tags":"b"},{"x":0.5,"sides":6,"tags":null}]`)
	p.Get("/shapes?select=id&corner->>x=gt.1&order=sides->0.desc").Expect(t, 200).
		JSONEq(t, `[{"id":1}]`)
	// keys are untyped like PostgREST's literals
	e := p.Get("/shapes?select=meta->>tags->x").ExpectError(t, 404, "42883")
	if e["message"] != "operator does not exist: text -> unknown" {
		t.Errorf("message %v", e["message"])
	}
}

// Embeds are jsonb, as PostgREST's: their text (CSV, custom media) is
// jsonb's.
func TestEmbedCompatJSONBText(t *testing.T) {
	db := NewDB(t, gardenFixture)
	p := StartPgrest(t, db, nil)
	r := p.Get("/crops?select=name,plots(label)&id=eq.100", "Accept: text/csv").Expect(t, 200)
	if want := "name,plots\ncarrot,\"{\"\"label\"\": \"\"north\"\"}\""; string(r.Body) != want {
		t.Fatalf("got %q, want %q", r.Body, want)
	}
}

// A domain's JSON representation applies before a cast in select.
func TestEmbedCompatRepresentationCast(t *testing.T) {
	db := NewDB(t, `
CREATE DOMAIN cents AS int;
CREATE FUNCTION cents_json(cents) RETURNS json IMMUTABLE LANGUAGE sql AS $$ SELECT to_json('$' || ($1 / 100.0)::numeric(10,2)) $$;
CREATE CAST (cents AS json) WITH FUNCTION cents_json(cents) AS IMPLICIT;
CREATE TABLE prices (id int PRIMARY KEY, amount cents);
INSERT INTO prices VALUES (1, 250);
GRANT SELECT ON prices TO web_anon;
GRANT EXECUTE ON FUNCTION cents_json(cents) TO web_anon;
`)
	p := StartPgrest(t, db, nil)
	p.Get("/prices?select=amount").Expect(t, 200).JSONEq(t, `[{"amount":"$2.50"}]`)
	p.Get("/prices?select=txt:amount::text").Expect(t, 200).JSONEq(t, `[{"txt":"\"$2.50\""}]`)
}

// Embeds and order apply to a mutation's representation.
func TestEmbedCompatAfterWrites(t *testing.T) {
	db := NewDB(t, gardenFixture+`GRANT INSERT, UPDATE ON crops TO web_anon;`)
	p := StartPgrest(t, db, nil)
	rep := "Prefer: return=representation"
	p.Do("POST", "/crops?select=name,plots(label),...kinds(kind)&order=id.desc", `[{"id":200,"name":"leek","plot_id":12,"kind_id":2},{"id":201,"name":"pea","plot_id":10,"kind_id":1}]`,
		"Content-Type: application/json", rep).Expect(t, 201).
		JSONEq(t, `[{"name":"pea","plots":{"label":"north"},"kind":"root"},{"name":"leek","plots":{"label":"east"},"kind":"leaf"}]`)
	p.Do("PATCH", "/crops?id=eq.100&select=name,plot_id(label)", `{"name":"Carrot"}`, "Content-Type: application/json", rep).Expect(t, 200).
		JSONEq(t, `[{"name":"Carrot","plot_id":{"label":"north"}}]`)
}

// Aggregates group by the level's embeds too.
func TestEmbedCompatAggregateWithEmbed(t *testing.T) {
	db := NewDB(t, gardenFixture)
	p := StartPgrest(t, db, func(c *config.Config) { c.DBAggregatesEnabled = true })
	p.Get("/crops?select=kinds(kind),count()&kind_id=eq.1").Expect(t, 200).
		JSONEq(t, `[{"kinds":{"kind":"root"},"count":2}]`)
}
