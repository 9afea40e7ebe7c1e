package server

import "testing"

func TestTargetStart(t *testing.T) {
	for in, want := range map[string]int{
		"GET items?id=eq.1 HTTP/1.1\r\n": 4,
		"GET /items HTTP/1.1\r\n":        -1,
		"OPTIONS * HTTP/1.1\r\n":         -1,
		"GET http://x/items HTTP/1.1":    -1,
		"CONNECT db:5432 HTTP/1.1":       -1,
		"get items HTTP/1.1":             -1,
		"GET":                            -1,
	} {
		if got := targetStart([]byte(in)); got != want {
			t.Errorf("%q: %d, want %d", in, got, want)
		}
	}
}
