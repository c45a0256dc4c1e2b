package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/realtimeserver/observability"
	"github.com/realtimeserver/observability/drop"
)

// forceKey is the context key of the context that a second signal cancels.
type forceKey struct{}

// forceExitAfter is how long the process may take to exit after a second
// signal before it exits regardless.
const forceExitAfter = 3 * time.Second

// onSignals returns a context that the first value received on sigs
// cancels: a graceful shutdown begins. It carries another context (see
// forceFrom), which the second value cancels: every wait of the shutdown
// ends at once, and what is still queued for Datadog is abandoned and
// counted. Should the process still be running forceExitAfter later, it
// exits with status 1, saying so on stderr.
func onSignals(sigs <-chan os.Signal, stderr io.Writer) context.Context {
	ctx, stop := context.WithCancel(context.Background())
	force, forceStop := context.WithCancel(context.Background())
	go func() {
		<-sigs
		stop()
		<-sigs
		forceStop()
		time.Sleep(forceExitAfter)
		fmt.Fprintf(stderr, "demo: still shutting down %v after a second signal; exiting now\n", forceExitAfter)
		os.Exit(1)
	}()
	return context.WithValue(ctx, forceKey{}, force)
}

// forceFrom returns the context onSignals put in ctx, which a second
// signal cancels, or, for a ctx that does not hold one (tests calling
// run), ctx without its cancellation.
func forceFrom(ctx context.Context) context.Context {
	if f, ok := ctx.Value(forceKey{}).(context.Context); ok {
		return f
	}
	return context.WithoutCancel(ctx)
}

// reportAbandoned writes, when a second signal cut the shutdown short
// (force is done), how many log records were abandoned: those Datadog's
// handler dropped as closed.
func reportAbandoned(force context.Context, tel *observability.Telemetry, stderr io.Writer) {
	if force.Err() == nil {
		return
	}
	var n uint64
	if tel != nil && tel.Datadog != nil {
		n = tel.Datadog.Stats().Dropped.Get(drop.Closed)
	}
	fmt.Fprintf(stderr, "demo: a second signal cut the shutdown short: %d log records abandoned\n", n)
}
