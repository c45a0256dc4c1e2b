// Package benchmarks measures the kit beside the libraries it replaces.
// It is a separate module so that those rivals never enter the main go.mod.
// Run it with: cd benchmarks && go test -run '^$' -bench . -benchmem
package benchmarks
