package integration

import (
	"strings"
	"testing"
)

// A request whose statements all go in one pipeline runs without BEGIN and
// COMMIT (the pipeline is its transaction); these check that it still is
// the transaction PostgREST opens. Each request is repeated: the first on
// a connection prepares its statements and takes the other path.
const txFixture = `
CREATE TABLE notes (id int PRIMARY KEY, body text);
CREATE TABLE parents (id int PRIMARY KEY);
CREATE TABLE kids (id int PRIMARY KEY, parent_id int REFERENCES parents(id) DEFERRABLE INITIALLY DEFERRED);
INSERT INTO parents VALUES (1);
CREATE FUNCTION tx_facts() RETURNS json LANGUAGE sql STABLE AS $$
  SELECT json_build_object('iso', current_setting('transaction_isolation'), 'ro', current_setting('transaction_read_only'),
    'method', current_setting('request.method'), 'path', current_setting('request.path'), 'role', current_user,
    'search_path', current_setting('search_path'), 'in_tx', now() = statement_timestamp())$$;
CREATE FUNCTION add_note(id int) RETURNS void LANGUAGE sql VOLATILE AS 'INSERT INTO notes VALUES (id, NULL)';
GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public TO web_anon;
`

func TestPipelinedTransaction(t *testing.T) {
	db := NewDB(t, txFixture)
	p := StartPgrest(t, db, nil)
	for i := 0; i < 4; i++ {
		p.Get("/rpc/tx_facts").Expect(t, 200).JSONEq(t,
			`{"iso":"read committed","ro":"on","method":"GET","path":"/rpc/tx_facts","role":"web_anon","search_path":"\"public\", \"public\"","in_tx":false}`)
		// READ ONLY holds without BEGIN: a volatile function over GET fails.
		p.Get("/rpc/add_note?id=1").ExpectError(t, 405, "25006")
		p.Do("POST", "/rpc/tx_facts", "{}").Expect(t, 200)
	}
	for i := 0; i < 4; i++ {
		// A deferred constraint fails at the end of the pipeline: the
		// client gets the error and nothing stays written.
		p.Do("POST", "/kids", `{"id":1,"parent_id":9}`).ExpectError(t, 409, "23503")
	}
	p.Get("/kids").Expect(t, 200).JSONEq(t, `[]`)
	for i := 1; i <= 4; i++ {
		p.Do("POST", "/kids", `{"id":`+strings.Repeat("1", i)+`,"parent_id":1}`).Expect(t, 201)
	}
	p.Get("/kids?select=id").Expect(t, 200).JSONEq(t, `[{"id":1},{"id":11},{"id":111},{"id":1111}]`)
}

// PostgREST begins every transaction READ COMMITTED, whatever the
// database's default; without BEGIN that must still hold.
func TestPipelinedTransactionDefaultIsolation(t *testing.T) {
	db := NewDB(t, txFixture)
	SQL(t, db, "ALTER DATABASE "+quoteIdent(db)+" SET default_transaction_isolation = 'repeatable read'")
	p := StartPgrest(t, db, nil)
	for i := 0; i < 4; i++ {
		r := p.Get("/rpc/tx_facts").Expect(t, 200)
		if iso := r.JSON(t).(map[string]any)["iso"]; iso != "read committed" {
			t.Fatalf("request %d ran at %v", i, iso)
		}
		p.Do("POST", "/notes", `{"id":`+strings.Repeat("2", i+1)+`}`).Expect(t, 201)
	}
	p.Get("/notes?select=id").Expect(t, 200).JSONEq(t, `[{"id":2},{"id":22},{"id":222},{"id":2222}]`)
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
