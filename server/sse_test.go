package server

import (
	"testing"

	"github.com/pgrest/pgrest/realtime"
)

// A body with line breaks (json_agg puts them between embedded rows) is
// framed as several data lines, which EventSource joins with "\n".
func TestSSEEventFraming(t *testing.T) {
	got := string(sseEvent(realtime.Event{Kind: "update", ID: "0/1:0", Data: []byte("{\"a\": [1, \n 2]}")}))
	want := "event: update\nid: 0/1:0\ndata: {\"a\": [1, \ndata:  2]}\n\n"
	if got != want {
		t.Fatalf("%q\nwant %q", got, want)
	}
	if got := string(sseEvent(realtime.Event{Kind: "reset", Data: []byte("{}")})); got != "event: reset\ndata: {}\n\n" {
		t.Fatalf("%q", got)
	}
}
