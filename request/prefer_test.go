package request

import "testing"

// PostgREST keeps the first value of a repeated preference, across
// headers too, and echoes a timezone for PostgreSQL to judge.
func TestPreferFirstValueWins(t *testing.T) {
	req := &Request{}
	if err := parsePrefer(req, []string{"return=minimal, tx=commit", "return=representation, tx=rollback, timezone=Asia/Tokyo", "max-affected=3, max-affected=9"}); err != nil {
		t.Fatal(err)
	}
	p := req.Prefs
	if p.Return != "minimal" || p.Tx != "commit" || p.Timezone != "Asia/Tokyo" || *p.MaxAffected != 3 || len(p.Invalid) != 0 {
		t.Fatalf("prefs: %+v", p)
	}
	req = &Request{}
	if err := parsePrefer(req, []string{"handling=strict, timezone=Not/AZone"}); err != nil || req.Prefs.Timezone != "Not/AZone" {
		t.Fatalf("a zone is PostgreSQL's to reject: %v %+v", err, req.Prefs)
	}
	if err := parsePrefer(&Request{}, []string{"handling=strict, return=everything"}); err == nil || err.Code != "PGRST122" {
		t.Fatalf("strict handling of an unknown value: %v", err)
	}
}
