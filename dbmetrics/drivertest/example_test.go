package drivertest_test

import (
	"context"
	"fmt"
	"log"

	_ "modernc.org/sqlite"

	"github.com/realtimeserver/observability/dbmetrics"
	"github.com/realtimeserver/observability/metricsink/metricsinktest"
)

func Example_open() {
	sink := metricsinktest.New() // in production: the Prometheus sink
	db, err := dbmetrics.Open("sqlite", ":memory:", &dbmetrics.Options{Sink: sink})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // one connection: one in-memory database

	db.MustExec("CREATE TABLE comments (id INTEGER PRIMARY KEY, body TEXT)")
	db.MustExec("INSERT INTO comments (body) VALUES (?)", "first!")
	var body string
	if err := db.Get(&body, "SELECT body FROM comments WHERE id = ?", 1); err != nil {
		log.Fatal(err)
	}
	fmt.Println(body)
	for _, op := range []string{"create", "insert", "select"} {
		for _, s := range sink.Samples("db.queries", "operation", op) {
			fmt.Println(op, s.Tags["source"], s.Value)
		}
	}
	// Output:
	// first!
	// create comments 1
	// insert comments 1
	// select comments 1
}

func Example_withSource() {
	sink := metricsinktest.New()
	db, err := dbmetrics.Open("sqlite", ":memory:", &dbmetrics.Options{Sink: sink, NoPoolMetrics: true})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	ctx := dbmetrics.WithSource(context.Background(), "health")
	var one int
	if err := db.GetContext(ctx, &one, "SELECT 1"); err != nil {
		log.Fatal(err)
	}
	fmt.Println(sink.Count("db.queries", "source", "health", "operation", "select"))
	// Output: 1
}
