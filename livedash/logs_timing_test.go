package livedash

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// discard is a ResponseWriter that keeps nothing of the answer.
type discard struct {
	h http.Header
	n int
}

func (w *discard) Header() http.Header         { return w.h }
func (w *discard) WriteHeader(int)             {}
func (w *discard) Write(b []byte) (int, error) { w.n += len(b); return len(b), nil }

// BenchmarkLogQuery is the largest query against a full Ring (5000
// records, 4 MiB), with no filter and with a request id that matches one
// record.
func BenchmarkLogQuery(b *testing.B) {
	ring := NewRing(keepAll(nil))
	fillRing(ring, 2*DefaultRingRecords)
	d, err := New(&Options{Logs: ring})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close(b.Context())
	for _, q := range []string{"limit=2000", "request_id=req-5000"} {
		b.Run(q, func(b *testing.B) {
			r := httptest.NewRequest("GET", DefaultPath+"/api/logs?"+q, nil)
			b.ReportAllocs()
			for b.Loop() {
				w := &discard{h: http.Header{}}
				d.ServeHTTP(w, r)
				b.SetBytes(int64(w.n))
			}
		})
	}
}
