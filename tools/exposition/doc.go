// Package exposition proves the Prometheus registry's expositions against
// the parsers of prometheus/common's expfmt, the library Prometheus'
// ecosystem reads them with: the protobuf format that package promproto
// writes (native histograms and exemplars included) and the OpenMetrics
// text (bucket exemplars), decoded and compared with the registry's
// Snapshot family by family, series by series, bucket by bucket and
// exemplar by exemplar; and /metrics answering the Accept headers
// Prometheus 2 and 3 send with a Content-Type from which expfmt picks the
// decoder that reads its body. prometheus/common lives here, in the tools
// module, never in the main go.mod.
package exposition
