package server

import (
	"encoding/json"
	"math/rand"
	"testing"
)

// objectJSON must give encoding/json's bytes: SQL may compare
// current_setting('request.headers') as text.
func TestObjectJSONMatchesEncodingJSON(t *testing.T) {
	alphabet := []string{"a", "Z", "0", " ", "\"", "\\", "<", ">", "&", "\n", "\r", "\t", "\b", "\f", "\x00", "\x1f", "\x7f",
		"é", "€", "\u2028", "\u2029", "\xff", "\xc3", "😀", "'", "/", "%"}
	rng := rand.New(rand.NewSource(1))
	word := func() string {
		s := ""
		for n := rng.Intn(6); n > 0; n-- {
			s += alphabet[rng.Intn(len(alphabet))]
		}
		return s
	}
	for i := 0; i < 2000; i++ {
		m := map[string]string{}
		for n := rng.Intn(5); n > 0; n-- {
			m[word()] = word()
		}
		want, _ := json.Marshal(m)
		if got := objectJSON(m); got != string(want) {
			t.Fatalf("objectJSON(%q) = %s, want %s", m, got, want)
		}
	}
	if got := objectJSON(nil); got != "{}" {
		t.Fatalf("nil map: %s", got)
	}
}
