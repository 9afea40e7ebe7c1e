package request

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkParse: the request parser on the bench's shapes (allocs are the
// point: the parser runs on every request, memo hit or not).
func BenchmarkParse(b *testing.B) {
	opts := Options{Schemas: []string{"api"}}
	for _, c := range []struct{ name, method, target, body string }{
		{"pk", "GET", "/tracks?id=eq.42", ""},
		{"page", "GET", "/tracks?select=id,title,duration_ms,price&duration_ms=gte.300000&order=duration_ms.asc&limit=50", ""},
		{"embed", "GET", "/albums?select=id,title,released,tracks(id,title,duration_ms)&artist_id=eq.7", ""},
		{"insert", "POST", "/tracks", `{"album_id":7,"title":"bench","track_no":99,"duration_ms":300000,"price":0.99}`},
		{"rpc", "GET", "/rpc/album_duration?album_id=7", ""},
	} {
		b.Run(c.name, func(b *testing.B) {
			r := httptest.NewRequest(c.method, c.target, nil)
			if c.body != "" {
				r.Header.Set("Content-Type", "application/json")
			}
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				r.Body = io.NopCloser(strings.NewReader(c.body))
				if _, err := Parse(r, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
