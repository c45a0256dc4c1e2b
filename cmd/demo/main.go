// Command demo is the realtime comments server of the observability guide:
// comments on videos, stored in SQLite (or PostgreSQL) and pushed live over
// WebSockets, with every part of the kit wired through observability.Setup.
//
//	go run ./cmd/demo                 # API on :4000, metrics on :9568
//	go run ./cmd/demo -simulate 20    # and 20 virtual users generating traffic
//	go run ./cmd/demo -telemetry=false  # the same server, uninstrumented
//
// Environment: PORT (4000), DATABASE_URL (a SQLite file in the working
// directory, or postgres://…), REGION (local), and the observability
// variables of the README (LOG_LEVEL, LOG_FORMAT, ENABLE_DATADOG, …).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"github.com/jmoiron/sqlx"

	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL, driver "pgx"
	_ "modernc.org/sqlite"             // SQLite, driver "sqlite"

	"github.com/realtimeserver/observability"
	"github.com/realtimeserver/observability/dbmetrics"
	"github.com/realtimeserver/observability/handler"
	"github.com/realtimeserver/observability/httpmetrics"
	"github.com/realtimeserver/observability/internal/secret"
	"github.com/realtimeserver/observability/livedash"
	"github.com/realtimeserver/observability/metricsink"
	_ "github.com/realtimeserver/observability/metricsink/prometheus/promproto" // /metrics in protobuf: native histograms
	"github.com/realtimeserver/observability/operate/profiling"
	_ "github.com/realtimeserver/observability/otlp" // OTEL_EXPORTER_OTLP_* export traces, logs and metrics
	"github.com/realtimeserver/observability/wsmetrics"
)

// defaultDatabase is the SQLite file used when DATABASE_URL is unset.
const defaultDatabase = "realtime-demo.db"

func main() {
	// The first SIGINT or SIGTERM starts a graceful shutdown; a second one
	// cuts it short (see onSignals).
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	ctx := onSignals(sigs, os.Stderr)
	if err := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// options are the demo's own settings, from flags and the environment.
type options struct {
	port        int
	databaseURL string
	region      string
	simulate    int
	simEvery    time.Duration
	telemetry   bool
	drainWait   time.Duration
	notReady    time.Duration
	idle        time.Duration
}

func parseOptions(args []string, lookup func(string) (string, bool), stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := options{port: 4000, region: "local", databaseURL: "sqlite://" + defaultDatabase}
	fs.IntVar(&o.simulate, "simulate", 0, "start `N` in-process virtual users that comment over HTTP and WebSocket")
	fs.DurationVar(&o.simEvery, "simulate-every", time.Second, "mean time between one virtual user's actions")
	fs.BoolVar(&o.telemetry, "telemetry", true, "instrument the server; false runs it with no instrumentation at all, as a baseline")
	fs.DurationVar(&o.drainWait, "shutdown-timeout", 30*time.Second, "how long shutdown waits for requests, sockets and log delivery, half for each: 15 s of delivery fit a hung request abandoned and retried")
	fs.DurationVar(&o.notReady, "not-ready-wait", time.Second, "after the first signal, how long /readyz answers 503 while requests are still served, so that load balancers stop sending new ones before the listener closes")
	fs.DurationVar(&o.idle, "socket-idle-timeout", defaultSocketIdle, "after this long without a message from a socket, ping it, and close it unless it answers")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.simulate < 0 {
		return o, fmt.Errorf("-simulate=%d is invalid: accepted a number of users, 0 or more", o.simulate)
	}
	if o.simEvery <= 0 {
		return o, fmt.Errorf("-simulate-every=%v is invalid: accepted a duration above 0, such as 500ms", o.simEvery)
	}
	if o.drainWait <= 0 {
		return o, fmt.Errorf("-shutdown-timeout=%v is invalid: accepted a duration above 0, such as 10s", o.drainWait)
	}
	if o.notReady < 0 {
		return o, fmt.Errorf("-not-ready-wait=%v is invalid: accepted 0 or a positive duration, such as 1s", o.notReady)
	}
	if o.idle <= 0 {
		return o, fmt.Errorf("-socket-idle-timeout=%v is invalid: accepted a duration above 0, such as 60s", o.idle)
	}
	if v, ok := lookup("PORT"); ok && v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 0 || p > 65535 {
			return o, fmt.Errorf("PORT=%q is invalid: accepted a port from 1 to 65535 (0 picks a free one)", v)
		}
		o.port = p
	}
	if v, ok := lookup("DATABASE_URL"); ok && v != "" {
		o.databaseURL = v
	}
	if v, ok := lookup("REGION"); ok && v != "" {
		o.region = v
	}
	return o, nil
}

// database maps DATABASE_URL to a driver and its DSN.
func database(url string) (driver, dsn string, err error) {
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		// Re-encoded, so that a password holding '@' (or another character
		// a URL must escape) reaches the driver as the password, never as
		// part of the host name that an error message would print.
		u, err := neturl.Parse(url)
		if err != nil {
			return "", "", fmt.Errorf("DATABASE_URL=%q is invalid: accepted postgres://user:password@host/db with special characters in the password percent-encoded", redactURL(url))
		}
		return "pgx", u.String(), nil
	case strings.HasPrefix(url, "sqlite://"):
		path := strings.TrimPrefix(url, "sqlite://")
		if path == "" {
			return "", "", fmt.Errorf("DATABASE_URL=%q is invalid: sqlite:// needs a file path", redactURL(url))
		}
		// WAL and a busy timeout let readers and the writer overlap.
		return "sqlite", "file:" + path + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)", nil
	}
	return "", "", fmt.Errorf("DATABASE_URL=%q is invalid: accepted postgres://… or sqlite://path", redactURL(url))
}

// run is the whole program; main only wires it to the process. It returns
// when ctx ends and shutdown is complete.
func run(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) (err error) {
	o, err := parseOptions(args, lookup, stderr)
	if err != nil {
		return err
	}
	// Whatever a driver puts in its errors, no part of the database
	// password leaves the program through the error it returns: with
	// -telemetry=false the database is opened by sqlx alone, whose
	// connection errors nothing else scrubs.
	defer func() { err = secret.New(nil, secret.DSNPasswords(o.databaseURL)).Err(err) }()
	cfg, err := observability.ConfigFromLookup(lookup)
	if err != nil {
		return err
	}
	if cfg.ServiceName == "" {
		cfg.ServiceName = "realtime-server"
	}
	turnOnDashboard(&cfg, lookup)
	tokenSet := cfg.DashboardToken != ""
	cfg.LogOutput = stderr
	cfg.DashboardURLOutput = io.Discard // the banner below prints it
	driver, dsn, err := database(o.databaseURL)
	if err != nil {
		return err
	}

	app := &App{hub: NewHub(), region: o.region, idle: o.idle}
	var (
		tel  *observability.Telemetry
		db   *sqlx.DB
		root http.Handler
	)
	if o.telemetry {
		if tel, err = observability.Setup(ctx, cfg); err != nil {
			return err
		}
		app.log, app.sink = tel.Logger, tel.Sink
		declareMetrics(tel.Sink)
		db, err = dbmetrics.Open(driver, dsn, &dbmetrics.Options{Sink: tel.Sink, Logger: tel.Logger, DBName: "comments"})
		// The demo's own events, so that a client cannot make up label
		// values: anything else is counted as "other".
		tracker := wsmetrics.NewTracker(tel.Sink, &wsmetrics.Options{Events: socketEvents})
		app.wrap = func(c *websocket.Conn, channel string) wsConn { return wsmetrics.Wrap(tracker, c, channel) }
		root = httpmetrics.Middleware(tel.Sink, &httpmetrics.Options{AccessLog: true, Logger: tel.Logger})(app.routes())
		metricsink.GaugeFunc(tel.Sink, "users.online", metricsink.KV("region", o.region),
			func() float64 { return float64(app.hub.Online()) })
	} else {
		if cfg.LogFormat == observability.FormatJSON {
			app.log = slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
		} else {
			app.log = slog.New(handler.Console(stderr, &handler.ConsoleOptions{Level: cfg.LogLevel}))
		}
		app.sink = metricsink.Discard
		db, err = sqlx.Open(driver, dsn)
		root = app.routes()
	}
	if err != nil {
		return shutdownAfter(tel, fmt.Errorf("opening the database: %w", err))
	}
	if driver == "sqlite" {
		db.SetMaxOpenConns(4)
	}
	app.store = NewStore(db, driver)
	if tel != nil {
		// /readyz on the metrics listener answers 503 while the database
		// does not answer, and from the first SIGTERM on (Drain below).
		tel.Health.AddReadiness("database", db.PingContext)
		if tel.Mux != nil {
			// CPU, heap and goroutine profiles behind the dashboard's
			// token: /debug/pprof/ for curl and go tool pprof, and under
			// /dashboard/ for the Runtime page's links, with its cookie.
			profiling.Mount(tel.Mux, &profiling.Options{Token: tel.Config.DashboardToken})
			profiling.Mount(tel.Mux, &profiling.Options{Token: tel.Config.DashboardToken, Cookie: livedash.CookieName, Base: observability.DashboardPath})
		}
	}
	if err := app.store.Migrate(ctx); err != nil {
		db.Close()
		return shutdownAfter(tel, err)
	}

	ln, err := net.Listen("tcp", fmt.Sprintf(":%d", o.port))
	if err != nil {
		db.Close()
		return shutdownAfter(tel, fmt.Errorf("PORT=%d: %w", o.port, err))
	}
	srv := &http.Server{
		Handler:           root,
		ReadHeaderTimeout: 10 * time.Second,
		// Bodies are at most 64 KiB: a client that trickles one cannot hold
		// a handler (or shutdown) for long. Sockets are hijacked, and
		// coder/websocket clears the deadlines it inherits.
		ReadTimeout: 30 * time.Second,
		IdleTimeout: 2 * time.Minute,
		ErrorLog:    slog.NewLogLogger(app.log.Handler(), slog.LevelWarn),
	}
	// Sockets are hijacked connections, which Shutdown does not track:
	// tell each to go away with a close frame.
	srv.RegisterOnShutdown(app.hub.CloseAll)

	base := "http://" + hostPort(ln.Addr())
	fmt.Fprintf(stdout, "realtime comments demo\n")
	fmt.Fprintf(stdout, "  API        %s/api/videos/1/comments\n", base)
	fmt.Fprintf(stdout, "  WebSocket  ws%s/socket?channel=video:1\n", strings.TrimPrefix(base, "http"))
	fmt.Fprintf(stdout, "  Health     %s/healthz\n", base)
	if tel != nil && tel.MetricsAddr != "" {
		// The address bound, as PROMETHEUS_HOST asked: [::] or 0.0.0.0 is
		// every interface, which the line says.
		fmt.Fprintf(stdout, "  Metrics    http://%s/metrics%s\n", tel.MetricsAddr, everyInterface(tel.MetricsAddr))
		fmt.Fprint(stdout, dashboardLine(tel, tokenSet))
	}
	fmt.Fprintf(stdout, "  Database   %s (%s)\n", redactURL(o.databaseURL), driver)

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	if tel != nil {
		cfg = tel.Config
	}
	app.log.Info("demo started", "addr", base, "telemetry", o.telemetry, "simulate", o.simulate, "config", cfg)

	simDone := make(chan struct{})
	simCtx, stopSim := context.WithCancel(ctx)
	defer stopSim()
	go func() {
		defer close(simDone)
		if o.simulate > 0 {
			sim := &simulation{base: base, users: o.simulate, videos: 5, every: o.simEvery, log: app.log,
				client: &http.Client{Timeout: 10 * time.Second}}
			sim.run(simCtx)
		}
	}()

	select {
	case <-ctx.Done():
		if tel != nil {
			// Load balancers see /readyz fail and stop sending new
			// requests while the listener still serves what they sent.
			tel.Health.Drain()
			select {
			case <-time.After(o.notReady):
			case <-forceFrom(ctx).Done():
			}
		}
	case err := <-serveErr:
		stopSim()
		<-simDone
		db.Close()
		return shutdownAfter(tel, err)
	}

	// Graceful shutdown: the simulation first, so its requests do not race
	// the listener closing; then stop accepting and finish requests in
	// flight; close sockets with a going-away status; flush telemetry; close
	// the database last, once nothing can use it.
	app.log.Info("shutting down")
	stopSim()
	<-simDone
	// Two phases with deadlines of their own, so that a request that will
	// not finish cannot take the time the log flush needs. A second signal
	// ends both at once (see forceFrom).
	bg := forceFrom(ctx)
	hctx, cancel := context.WithTimeout(bg, o.drainWait/2)
	defer cancel()
	var errs []error
	if err := srv.Shutdown(hctx); err != nil {
		errs = append(errs, fmt.Errorf("http shutdown: %w", err))
		srv.Close() // cut what is still open
	}
	app.hub.CloseAll()
	waitGroup(hctx, &app.sockets)
	if n, err := app.store.Count(hctx); err == nil {
		app.log.Info("stopped", "comments_stored", n)
	}
	tctx, cancel := context.WithTimeout(bg, o.drainWait/2)
	defer cancel()
	if tel != nil {
		if err := tel.Shutdown(tctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := db.Close(); err != nil {
		errs = append(errs, fmt.Errorf("closing the database: %w", err))
	}
	reportAbandoned(bg, tel, stderr)
	return errors.Join(errs...)
}

// shutdownAfter flushes telemetry after a start-up failure and returns err.
func shutdownAfter(tel *observability.Telemetry, err error) error {
	if tel != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = errors.Join(err, tel.Shutdown(ctx))
	}
	return err
}

func waitGroup(ctx context.Context, wg interface{ Wait() }) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// everyInterface returns a note for an address that binds every interface.
func everyInterface(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err == nil && ip != nil && ip.IsUnspecified() {
		return " (every interface; PROMETHEUS_HOST=127.0.0.1 keeps it local)"
	}
	return ""
}

func hostPort(a net.Addr) string {
	if t, ok := a.(*net.TCPAddr); ok && t.IP.IsUnspecified() {
		return "localhost:" + strconv.Itoa(t.Port)
	}
	return a.String()
}

// redactURL hides the password of a database URL, in its user information
// and in a password query parameter, for messages and logs.
func redactURL(s string) string {
	u, err := neturl.Parse(s)
	if err != nil {
		return "(an unparsable URL)"
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	// A password net/url misreads (an '@' or '/' in it, unencoded) is cut
	// where it parsed: what is left of it goes too.
	return secret.New(nil, secret.DSNPasswords(s)).Scrub(u.Redacted())
}
