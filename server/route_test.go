package server

import "testing"

func TestAPIPath(t *testing.T) {
	for p, want := range map[string]bool{
		"/": true, "/items": true, "/rpc": true, "/rpc/fn": true, "/a%2Fb": true, "/rpc/a%2Fb": true,
		"": false, "*": false, "//": false, "/items/": false, "/a/b": false, "/rpc/": false, "/rpc/fn/x": false, "/rpc//": false,
	} {
		if got := apiPath(p); got != want {
			t.Errorf("apiPath(%q) = %v, want %v", p, got, want)
		}
	}
}
