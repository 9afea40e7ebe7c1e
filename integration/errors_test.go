package integration

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/pgrest/pgrest/server/config"
)

// token mints an HS256 token for the test secret.
func token(t testing.TB, claims map[string]any) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims(claims)).SignedString([]byte(JWTSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func bearer(t testing.TB, role string) string {
	return "Authorization: Bearer " + token(t, map[string]any{"role": role, "exp": time.Now().Add(time.Hour).Unix()})
}

const errorsFixture = `
CREATE TABLE secret (id int);
CREATE TABLE visible (id int);
INSERT INTO visible VALUES (1);
GRANT SELECT ON visible TO web_anon, test_user;

CREATE FUNCTION respond_with(status text, headers text) RETURNS int LANGUAGE sql VOLATILE AS $$
  SELECT length(set_config('response.status', status, true)) * 0
       + length(set_config('response.headers', headers, true)) * 0 $$;
CREATE VIEW teapot AS SELECT respond_with('418', '[{"X-Tea":"earl grey"},{"Cache-Control":"no-store"}]') AS x;
CREATE VIEW bad_status AS SELECT respond_with('abc', '[]') AS x;
CREATE VIEW bad_headers AS SELECT respond_with('200', '{"not":"an array"}') AS x;

CREATE FUNCTION raise_custom() RETURNS int LANGUAGE plpgsql AS $$
BEGIN
  RAISE SQLSTATE 'PGRST' USING
    MESSAGE = '{"code":"123","message":"Payment Required","details":"Quota exceeded","hint":"Upgrade your plan"}',
    DETAIL = '{"status":402,"headers":{"X-Powered-By":"Nerd Rage"}}';
END $$;
CREATE VIEW pay AS SELECT raise_custom() AS x;

CREATE FUNCTION raise_plain() RETURNS int LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'plain failure' USING DETAIL = 'some detail', HINT = 'some hint'; END $$;
CREATE VIEW plain AS SELECT raise_plain() AS x;

CREATE FUNCTION raise_pt() RETURNS int LANGUAGE plpgsql AS $$
BEGIN RAISE SQLSTATE 'PT410' USING MESSAGE = 'gone for good'; END $$;
CREATE VIEW gone AS SELECT raise_pt() AS x;

CREATE FUNCTION check_request() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('request.headers', true)::json->>'x-block' = 'yes' THEN
    RAISE SQLSTATE 'PGRST' USING
      MESSAGE = '{"code":"BLK","message":"blocked by pre-request"}',
      DETAIL = '{"status":403,"headers":{}}';
  END IF;
END $$;

GRANT SELECT ON teapot, bad_status, bad_headers, pay, plain, gone TO web_anon;
`

// A3: response.status and response.headers set from SQL shape the response.
func TestResponseSettings(t *testing.T) {
	db := NewDB(t, errorsFixture)
	p := StartPgrest(t, db, nil)
	r := p.Get("/teapot").Expect(t, 418)
	if r.Header.Get("X-Tea") != "earl grey" || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("headers from response.headers missing: %v", r.Header)
	}
	p.Get("/bad_status").ExpectError(t, 500, "PGRST112")
	p.Get("/bad_headers").ExpectError(t, 500, "PGRST111")
}

// A3/A4: RAISE with SQLSTATE 'PGRST', PTxxx and plain exceptions.
func TestRaisedErrors(t *testing.T) {
	db := NewDB(t, errorsFixture)
	p := StartPgrest(t, db, nil)
	r := p.Get("/pay")
	r.Expect(t, 402)
	r.JSONEq(t, `{"code":"123","message":"Payment Required","details":"Quota exceeded","hint":"Upgrade your plan"}`)
	if r.Header.Get("X-Powered-By") != "Nerd Rage" {
		t.Fatalf("custom header missing: %v", r.Header)
	}
	r = p.Get("/plain")
	r.Expect(t, 400)
	r.JSONEq(t, `{"code":"P0001","message":"plain failure","details":"some detail","hint":"some hint"}`)
	p.Get("/gone").ExpectError(t, 410, "PT410")
}

// A4: permission denied is 401 for the anonymous role, 403 for a user.
func TestPermissionDeniedStatus(t *testing.T) {
	db := NewDB(t, errorsFixture)
	p := StartPgrest(t, db, nil)
	r := p.Get("/secret")
	r.ExpectError(t, 401, "42501")
	p.Get("/secret", bearer(t, "test_user")).ExpectError(t, 403, "42501")
	p.Get("/visible", bearer(t, "test_user")).Expect(t, 200).JSONEq(t, `[{"id":1}]`)
}

// A2: db-pre-request runs before the query and can reject the request.
func TestPreRequest(t *testing.T) {
	db := NewDB(t, errorsFixture)
	p := StartPgrest(t, db, func(c *config.Config) { c.DBPreRequest = "public.check_request" })
	p.Get("/visible").Expect(t, 200)
	p.Get("/visible", "X-Block: yes").ExpectError(t, 403, "BLK")
}
