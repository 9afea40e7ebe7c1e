package realtime

import (
	"encoding/json"
	"testing"

	"github.com/jackc/pglogrepl"
	"github.com/pgrest/pgrest/planner"
	"github.com/pgrest/pgrest/request"
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

func TestKeyField(t *testing.T) {
	sel := func(items ...request.SelectItem) *request.Request { return &request.Request{Select: items} }
	col := func(name, alias, cast string) request.SelectItem {
		return request.SelectItem{Field: request.Field{Name: name}, Alias: alias, Cast: cast}
	}
	pk := []string{"id"}
	cases := []struct {
		req  *request.Request
		pk   []string
		want string
	}{
		{sel(), pk, "id"},
		{sel(col("*", "", "")), pk, "id"},
		{sel(col("id", "", ""), col("name", "", "")), pk, "id"},
		{sel(col("id", "key", "")), pk, "key"},
		{sel(col("id", "", "text")), pk, ""}, // cast: the text may differ
		{sel(col("name", "", "")), pk, ""},   // key not rendered
		{sel(col("id", "", ""), request.SelectItem{Embed: &request.Embed{Name: "x", Spread: true}}), pk, ""},
		{sel(), []string{"a", "b"}, ""},
	}
	for i, c := range cases {
		if got := keyField(c.req, planner.Options{}, c.pk); got != c.want {
			t.Errorf("case %d: %q, want %q", i, got, c.want)
		}
	}
	max := int64(10)
	if keyField(sel(), planner.Options{MaxRows: &max}, pk) != "" {
		t.Error("db-max-rows could cut a batch: no batching")
	}
}

func TestSplitByKey(t *testing.T) {
	out := map[string]json.RawMessage{}
	if !splitByKey([]byte(`[{"id":1,"n":"a"}, {"id":22,"n":"b"}]`), "id", out) || string(out["22"]) != `{"id":22,"n":"b"}` {
		t.Fatalf("%s", out)
	}
	out = map[string]json.RawMessage{}
	if !splitByKey([]byte(`[{"k":"x\"y"}]`), "k", out) || out[`x"y`] == nil {
		t.Fatal("string keys are unquoted")
	}
	if splitByKey([]byte(`[{"id":1},{"id":1}]`), "id", map[string]json.RawMessage{}) {
		t.Fatal("duplicate keys cannot be told apart")
	}
	if splitByKey([]byte(`[{"x":1}]`), "id", map[string]json.RawMessage{}) {
		t.Fatal("a row without the key field")
	}
}
