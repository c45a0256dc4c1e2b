// Package operate gives an operator handles on a running service: the log
// level read and changed over HTTP ([Level]), and the health endpoints
// Kubernetes probes ([Health]: /livez, /readyz, draining on SIGTERM).
// Profiling is in the subpackage operate/profiling, so that a program
// imports net/http/pprof only when it asks for profiles.
//
// Mount them on the listener that serves /metrics, never on
// http.DefaultServeMux:
//
//	level, _ := operate.NewLevel(tel.Level, &operate.LevelOptions{Logger: tel.Logger, Token: token})
//	mux.Handle("/loglevel", level)
//
//	health, _ := operate.NewHealth(nil)
//	health.AddReadiness("db", db.PingContext)
//	health.Mount(mux)
//
//	ctx, stop := health.NotifyContext(context.Background()) // SIGTERM: /readyz answers 503
//	defer stop()
//	<-ctx.Done()
//	stop()
//	srv.Shutdown(shutdownCtx) // requests already accepted finish
//
// From a shell:
//
//	curl -H "Authorization: Bearer $TOKEN" localhost:9568/loglevel
//	curl -X PUT -H "Authorization: Bearer $TOKEN" 'localhost:9568/loglevel?level=debug&for=5m'
//	curl 'localhost:9568/readyz?verbose'
//
// Tokens are checked as the dashboard checks its own: a bearer token,
// compared in constant time, never logged.
package operate
