// Package exposition proves the Prometheus registry's expositions against
// the parsers of prometheus/common's expfmt, the library Prometheus'
// ecosystem reads them with: the protobuf format that package promproto
// writes (native histograms and exemplars included), decoded and compared
// with the registry's Snapshot family by family, series by series, bucket
// by bucket and exemplar by exemplar. prometheus/common lives here, in the
// tools module, never in the main go.mod.
package exposition
