// Package deploy holds no code. The folder carries the files users check in
// to watch a service built with this module, and the tests that prove them:
//
//   - prometheus/prometheus.yml scrapes the service on localhost:9568 and
//     loads prometheus/alerts.yml; prometheus/alerts_test.yml are promtool
//     unit tests of every alert;
//   - grafana/dashboards/*.json are four Grafana dashboards (overview, HTTP
//     latency, database, WebSocket) with stable uids and a datasource
//     variable, and grafana/provisioning/ loads them with a Prometheus
//     datasource when Grafana starts;
//   - datadog/*.json are three Datadog dashboards (service overview, log
//     analytics, infrastructure) over the DogStatsD metrics and the logs.
//
// Run Prometheus and Grafana against the demo from the repository root:
//
//	go run ./cmd/demo -simulate 20 &
//	prometheus --config.file=deploy/prometheus/prometheus.yml --storage.tsdb.path="$(mktemp -d)" &
//	GF_PATHS_PROVISIONING="$PWD/deploy/grafana/provisioning" grafana server --homepath /usr/share/grafana
//
// Upload the dashboards to a Grafana or Datadog account with
// go run ./cmd/dashboards (see its documentation).
//
// The tests run promtool on the Prometheus files, check that every PromQL
// expression of the alerts and Grafana panels names only metrics this
// module exposes and that every Grafana panel uses the datasource variable,
// and check that every metric a Datadog dashboard queries is one the
// DogStatsD sink sends, from real traffic through httpmetrics, dbmetrics
// and wsmetrics to a UDP listener, with an aggregation Datadog has for it
// (percentiles such as p95: of distributions only). An integration test runs Debian's
// prometheus against the demo under simulated traffic and evaluates every
// panel and alert expression through its HTTP API.
package deploy
