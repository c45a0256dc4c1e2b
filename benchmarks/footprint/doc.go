// Package footprint checks what a program on the kit links and weighs,
// against the same program on log/slog, prometheus/client_golang and sqlx
// alone. Both programs (./kit and ./plain) log to the console, serve
// /metrics with one counter and one histogram, and wrap one HTTP handler
// and one sqlx database on SQLite.
//
//	cd benchmarks && go test -run Footprint -v ./footprint
//
// prints both stripped binaries' sizes and the third-party modules each
// links (from `go version -m`), leaving out the kit's own modules and the
// SQLite driver's (what ./sqliteonly links), and fails when the kit's
// program links more than MaxModules of them, weighs more than MaxRatio
// times the plain one, links the OpenTelemetry SDK or gRPC, or when the
// kit's go.mod requires a module only the demo or the tests use.
package footprint

// The bounds the check enforces.
const (
	// MaxModules is the most third-party modules the kit's program may
	// link besides the SQLite driver's.
	MaxModules = 16
	// MaxRatio is the most the kit's stripped binary may weigh against
	// the plain program's.
	MaxRatio = 1.3
)
