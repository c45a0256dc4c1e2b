package benchmarks

import (
	"io"
	"testing"

	"github.com/prometheus/common/expfmt"

	_ "github.com/realtimeserver/observability/metricsink/prometheus/promproto" // the protobuf encoder
)

// BenchmarkScrapeProtobuf measures what BenchmarkScrape measures, one
// whole exposition of 10,000 counter series in 10 families to io.Discard,
// in the protobuf format Prometheus asks for when it scrapes native
// histograms: ours through WriteProtobuf (with promproto imported),
// client_golang through Gather and expfmt's delimited encoder, which is
// what promhttp does for that Accept header.
func BenchmarkScrapeProtobuf(b *testing.B) {
	b.Run("ours", func(b *testing.B) {
		p := scrapeRegistry(b)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if err := p.WriteProtobuf(io.Discard); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("client_golang", func(b *testing.B) { scrapeClientGolang(b, expfmt.TypeProtoDelim) })
}
