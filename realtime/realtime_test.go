package realtime

import (
	"testing"

	"github.com/jackc/pglogrepl"
)

func TestEventIDRoundTrip(t *testing.T) {
	id := eventID(pglogrepl.LSN(0x16B3748), 3)
	if id != "0/16B3748:3" {
		t.Fatalf("id %q", id)
	}
	p, ok, err := parseEventID(" " + id + " ")
	if err != nil || !ok || p.lsn != 0x16B3748 || p.pos != 3 {
		t.Fatalf("parsed %+v %v %v", p, ok, err)
	}
	if _, ok, err := parseEventID(""); ok || err != nil {
		t.Fatal("an empty id is no id")
	}
	for _, bad := range []string{"0/16B3748", "x/1:0", "0/1:x", "garbage"} {
		if _, _, err := parseEventID(bad); err == nil || err.Status != 400 {
			t.Fatalf("%q: want a 400", bad)
		}
	}
}

// The seen set decides insert vs update vs delete for live changes; a
// resumed stream follows the WAL operation.
func TestClassify(t *testing.T) {
	s := &Subscription{seen: map[string]bool{}}
	steps := []struct {
		visible bool
		op      byte
		resumed bool
		want    string
	}{
		{false, 'I', false, ""},       // inserted outside the filter
		{true, 'U', false, "insert"},  // enters
		{true, 'U', false, "update"},  // changes inside
		{false, 'U', false, "delete"}, // leaves
		{false, 'D', false, ""},       // already gone for this subscriber
		{true, 'U', true, "update"},   // replayed update of a visible row
		{false, 'D', true, "delete"},  // replayed delete
		{true, 'I', true, "insert"},   // replayed insert
	}
	for i, st := range steps {
		if got := s.classify("r", st.visible, st.op, st.resumed); got != st.want {
			t.Fatalf("step %d: %q, want %q", i, got, st.want)
		}
	}
}

func TestKeyJSON(t *testing.T) {
	got := string(keyJSON([]keyVal{{"id", "7", 23}, {"code", "a\"b", 25}, {"ok", "t", 16}}))
	if got != `{"code":"a\"b","id":7,"ok":true}` {
		t.Fatalf("%s", got)
	}
}
