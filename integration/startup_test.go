package integration

import "testing"

// A request that arrives while the first schema load is under way waits for
// it instead of failing with 503 (a load balancer that routes to a process
// as soon as it listens sees no error).
func TestRequestDuringFirstLoadWaits(t *testing.T) {
	db := NewDB(t, `CREATE TABLE items (id int); INSERT INTO items VALUES (1); GRANT SELECT ON items TO web_anon;`)
	p := StartPgrestConfig(t, BaseConfig(db)) // not waiting for the schema cache
	p.Get("/items").Expect(t, 200).JSONEq(t, `[{"id":1}]`)
}
