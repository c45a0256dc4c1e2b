package drivertest

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/realtimeserver/observability/dbmetrics"
	"github.com/realtimeserver/observability/internal/testenv"
	"github.com/realtimeserver/observability/metricsink/prometheus"
)

// TestPrometheusExposition runs queries into the real Prometheus sink and
// checks the exposed names, and that promtool finds nothing to complain of.
func TestPrometheusExposition(t *testing.T) {
	prom, err := prometheus.New(&prometheus.Options{DisableRuntimeMetrics: true})
	if err != nil {
		t.Fatal(err)
	}
	db, err := dbmetrics.Open("sqlite", filepath.Join(t.TempDir(), "p.db"), &dbmetrics.Options{Sink: prom, DBName: "comments_db"})
	if err != nil {
		t.Fatal(err)
	}
	db.MustExec(schemaSQLite)
	db.MustExec("INSERT INTO comments (video_id, body) VALUES (1, 'a')")
	var n int
	if err := db.Get(&n, "SELECT count(*) FROM comments"); err != nil {
		t.Fatal(err)
	}
	db.Exec("INSERT INTO comments (video_id, body) VALUES (1, 'a')") // unique violation

	var buf bytes.Buffer
	prom.WritePrometheus(&buf)
	out := buf.String()
	for _, want := range []string{
		`db_queries_total{operation="select",source="comments"} 1`,
		`db_queries_total{operation="insert",source="comments"} 2`,
		`db_query_errors_total{operation="insert",source="comments"} 1`,
		`db_query_duration_seconds_bucket{operation="select",source="comments",le="0.1"} 1`,
		`db_pool_max_open_connections{db="comments_db"} 0`,
		`db_pool_open_connections{db="comments_db"} 1`,
		`db_pool_waits_total{db="comments_db"} 0`,
		`db_pool_wait_seconds_total{db="comments_db"} 0`,
		`db_pool_closed_max_lifetime_total{db="comments_db"} 0`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("exposition lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("exposition:\n%s", out)
	}

	promtool := testenv.Binary(t, "promtool", "install prometheus (Debian: apt-get install prometheus)")
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(out)
	if msg, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(msg)) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, msg)
	}

	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	prom.WritePrometheus(&buf)
	if strings.Contains(buf.String(), "db_pool_") {
		t.Errorf("pool metrics still exposed after Close:\n%s", buf.String())
	}
}
