// Package workspace holds no code: its test runs the tests of every other
// module of the repository's go.work, so that `go test ./...` at the
// repository's root runs every test of the repository, whatever module a
// package lives in.
//
// The repository is split into modules by weight: the kit itself at the
// root (what a program that logs and serves Prometheus links), the
// OpenTelemetry export (otlp/), the demo (cmd/demo/), the deployment
// assets' tests (deploy/), the database driver tests
// (dbmetrics/drivertest/), the real consumers (tools/) and the benchmarks
// (benchmarks/). In workspace mode `./...` matches the packages of the
// module at the root alone; TestWorkspaceModules runs the others with the
// same -race, -count, -short and -v, and within the time left of its own
// -timeout.
package workspace
