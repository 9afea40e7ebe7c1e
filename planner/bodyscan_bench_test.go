package planner

import "testing"

// BenchmarkScanJSONRowsSmall: a write body of one or two small rows, the
// common case of a POST or PATCH; "decoder" is the json.Decoder walk
// alone, for comparison.
func BenchmarkScanJSONRowsSmall(b *testing.B) {
	for _, c := range []struct{ name, body string }{
		{"object", `{"album_id":7,"title":"bench","track_no":99,"duration_ms":300000,"price":0.99}`},
		{"two", `[{"order_id":2,"qty":2,"sku":"y"},{"order_id":2,"qty":3,"sku":"z"}]`},
	} {
		for _, s := range []struct {
			name string
			scan func([]byte, bool, []string) (*rowsPayload, error)
		}{{"fast", scanJSONRows}, {"decoder", scanRowsDecoder}} {
			b.Run(c.name+"/"+s.name, func(b *testing.B) {
				body := []byte(c.body)
				b.ReportAllocs()
				for b.Loop() {
					if _, err := s.scan(body, true, nil); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
