package cache

import "testing"

func TestLSNTextRoundTrip(t *testing.T) {
	for _, s := range []string{"0/0", "0/16B3748", "1/0", "FFFFFFFF/FFFFFFFF", "A/B"} {
		l, err := ParseLSN(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if l.String() != s {
			t.Errorf("%s came back as %s", s, l)
		}
	}
	if l, _ := ParseLSN("1/2"); l != 1<<32|2 {
		t.Errorf("1/2 = %d", l)
	}
	for _, bad := range []string{"", "16B3748", "x/1", "1/", "1/100000000", "-1/2"} {
		if _, err := ParseLSN(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestRecordEndSkipsOnlyAPageHeader(t *testing.T) {
	cases := map[LSN]LSN{
		3*8192 + 24: 3 * 8192, // a record ended at the boundary
		3*8192 + 40: 3*8192 + 40,
		3*8192 + 25: 3*8192 + 25,
		3 * 8192:    3 * 8192,
	}
	for in, want := range cases {
		if got := in.RecordEnd(); got != want {
			t.Errorf("%d: %d, want %d", in, got, want)
		}
	}
}
