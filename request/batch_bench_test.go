package request

import "testing"

// batchBench10 is ten operations like the integration batch bench's mixed
// run (integration/batch_bench_test.go), as encoding/json writes them.
const batchBench10 = `[{"method":"POST","path":"/orders","headers":{"Prefer":"return=representation"},"body":{"customer":"a"}},` +
	`{"method":"POST","path":"/orders","body":{"customer":"b"}},` +
	`{"method":"POST","path":"/lines","body":{"order_id":2,"qty":1,"sku":"x"}},` +
	`{"method":"POST","path":"/lines","body":[{"order_id":2,"qty":2,"sku":"y"},{"order_id":2,"qty":3,"sku":"z"}]},` +
	`{"method":"PATCH","path":"/orders?id=eq.1","body":{"status":"placed"}},` +
	`{"method":"GET","path":"/orders?select=id,customer,lines(sku,qty)\u0026id=eq.1"},` +
	`{"method":"GET","path":"/lines?select=sku\u0026order_id=eq.1\u0026order=id.desc\u0026limit=5"},` +
	`{"method":"GET","path":"/rpc/order_qty?oid=1"},` +
	`{"method":"GET","path":"/orders?select=id\u0026status=eq.placed\u0026limit=1","headers":{"Prefer":"count=exact"}},` +
	`{"method":"DELETE","path":"/lines?sku=eq.none"}]`

// BenchmarkParseBatch10: reading a ten-operation batch, before anything
// runs; "decoder" is the encoding/json reader alone, for comparison.
func BenchmarkParseBatch10(b *testing.B) {
	body := []byte(batchBench10)
	for _, c := range []struct {
		name  string
		parse func([]byte, int) ([]BatchOp, int, error)
	}{{"fast", ParseBatch}, {"decoder", parseBatchDecoder}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := c.parse(body, 100); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParseBatchOps10: each operation of a read batch as the request
// parser reads it (what a batch does per operation before planning).
func BenchmarkParseBatchOps10(b *testing.B) {
	ops, _, err := ParseBatch([]byte(batchBench10), 100)
	if err != nil {
		b.Fatal(err)
	}
	opts := Options{Schemas: []string{"api"}}
	b.ReportAllocs()
	for b.Loop() {
		for k := range ops {
			r, err := ops[k].HTTPRequest(k)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := Parse(r, opts); err != nil {
				b.Fatal(err)
			}
		}
	}
}
