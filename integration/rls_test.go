package integration

import (
	"testing"
	"time"
)

const rlsFixture = `
CREATE TABLE notes (id int, owner text DEFAULT current_user, body text);
INSERT INTO notes VALUES (1, 'test_user', 'mine'), (2, 'other_user', 'theirs'), (3, 'test_user', 'also mine');
ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON notes USING (owner = current_user);
GRANT SELECT ON notes TO test_user, other_user;
CREATE VIEW me AS SELECT current_user::text AS role, current_setting('request.jwt.claims', true)::json->>'email' AS email;
GRANT SELECT ON me TO web_anon, test_user, other_user;
`

// A1/A2: the token's role runs the query; RLS decides the rows.
func TestJWTRoleAndRLS(t *testing.T) {
	db := NewDB(t, rlsFixture)
	p := StartPgrest(t, db, nil)
	exp := time.Now().Add(time.Hour).Unix()
	tok := token(t, map[string]any{"role": "test_user", "email": "a@b.c", "exp": exp})
	p.Get("/me", "Authorization: Bearer "+tok).Expect(t, 200).JSONEq(t, `[{"role":"test_user","email":"a@b.c"}]`)
	p.Get("/me").Expect(t, 200).JSONEq(t, `[{"role":"web_anon","email":null}]`)

	p.Get("/notes?select=id&order=id", bearer(t, "test_user")).Expect(t, 200).JSONEq(t, `[{"id":1},{"id":3}]`)
	p.Get("/notes?select=id&order=id", bearer(t, "other_user")).Expect(t, 200).JSONEq(t, `[{"id":2}]`)

	expired := token(t, map[string]any{"role": "test_user", "exp": time.Now().Add(-time.Hour).Unix()})
	r := p.Get("/me", "Authorization: Bearer "+expired)
	r.ExpectError(t, 401, "PGRST303")
	if r.Header.Get("WWW-Authenticate") == "" {
		t.Fatal("401 without WWW-Authenticate")
	}
	p.Get("/me", "Authorization: Bearer "+tok[:len(tok)-4]+"AAAA").ExpectError(t, 401, "PGRST301")
	p.Get("/me", bearer(t, "no_such_role")).ExpectError(t, 401, "22023")
	p.Get("/me", bearer(t, `evil"; DROP TABLE notes; --`)).ExpectError(t, 401, "22023")
	p.Get("/notes", bearer(t, "test_user")).Expect(t, 200)
}
