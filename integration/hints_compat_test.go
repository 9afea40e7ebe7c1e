package integration

import "testing"

const hintsFixture = `
CREATE TABLE vendors (id int PRIMARY KEY, name text);
CREATE TABLE invoices (id int PRIMARY KEY, vendor_id int REFERENCES vendors);
GRANT SELECT ON vendors, invoices TO web_anon;
CREATE FUNCTION total_due(vendor int, upto date) RETURNS int LANGUAGE sql AS 'SELECT 1';
CREATE FUNCTION total_due(vendor int) RETURNS int LANGUAGE sql AS 'SELECT 2';
GRANT EXECUTE ON FUNCTION total_due(int, date), total_due(int) TO web_anon;
`

// "Perhaps you meant" only where PostgREST says it: table names at 75%
// similarity; function names, a function's parameters and an embed's
// target at the fuzzy set's 33%.
func TestNearNameHints(t *testing.T) {
	db := NewDB(t, hintsFixture)
	p := StartPgrest(t, db, nil)
	hint := func(path string, status int, code string) any {
		t.Helper()
		return p.Get(path).ExpectError(t, status, code)["hint"]
	}
	if h := hint("/vendorz", 404, "PGRST205"); h != "Perhaps you meant the table 'public.vendors'" {
		t.Errorf("close table: %v", h)
	}
	if h := hint("/vxndxrs", 404, "PGRST205"); h != nil {
		t.Errorf("far table: %v", h)
	}
	if h := hint("/rpc/total_dues?vendor=1", 404, "PGRST202"); h != "Perhaps you meant to call the function public.total_due" {
		t.Errorf("close function: %v", h)
	}
	if h := hint("/rpc/total_due?vendor=1&upt=2", 404, "PGRST202"); h != "Perhaps you meant to call the function public.total_due(upto, vendor)" {
		t.Errorf("parameters: %v", h)
	}
	if h := hint("/vendors?select=invoice(*)", 400, "PGRST200"); h != "Perhaps you meant 'invoices' instead of 'invoice'." {
		t.Errorf("embed: %v", h)
	}
	// below the 75% table names need: the fuzzy set still ranks it first
	if h := hint("/vendors?select=invoices_2024(*)", 400, "PGRST200"); h != "Perhaps you meant 'invoices' instead of 'invoices_2024'." {
		t.Errorf("embed, far: %v", h)
	}
}
