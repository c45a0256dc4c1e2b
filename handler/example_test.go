package handler_test

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/realtimeserver/observability/handler"
)

// noTime removes the time so that the output is deterministic.
func noTime(groups []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey && len(groups) == 0 {
		return slog.Attr{}
	}
	return a
}

func ExampleFanout() {
	opts := &slog.HandlerOptions{ReplaceAttr: noTime}
	warn := &slog.HandlerOptions{ReplaceAttr: noTime, Level: slog.LevelWarn}
	logger := slog.New(handler.Fanout(
		slog.NewJSONHandler(os.Stdout, opts), // every record, as JSON
		slog.NewTextHandler(os.Stdout, warn), // warnings and errors, as text
	))

	logger.Info("comment created", "comment_id", 99, "video_id", 42)
	logger.Warn("slow query", "source", "comments", "ms", 612)
	// Output:
	// {"level":"INFO","msg":"comment created","comment_id":99,"video_id":42}
	// {"level":"WARN","msg":"slow query","source":"comments","ms":612}
	// level=WARN msg="slow query" source=comments ms=612
}

func ExampleRedact() {
	h := slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: noTime})
	logger := slog.New(handler.Redact(h, &handler.RedactOptions{Keys: []string{"ssn"}}))

	logger.Info("login", "user", "ann", "Password", "hunter2",
		slog.Group("headers", "Authorization", "Bearer abc", "Accept", "text/html"),
		"ssn", "078-05-1120")
	// Output:
	// {"level":"INFO","msg":"login","user":"ann","Password":"[REDACTED]","headers":{"Authorization":"[REDACTED]","Accept":"text/html"},"ssn":"[REDACTED]"}
}

func ExampleParseLevel() {
	var level slog.LevelVar
	for _, s := range []string{"Warning", " debug ", "verbose"} {
		l, err := handler.ParseLevel(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		level.Set(l)
		fmt.Println(level.Level())
	}
	// Output:
	// WARN
	// DEBUG
	// log level "verbose": accepted values are debug, info, warning (or warn), error
}

func ExampleConsole() {
	// os.Stdout is not a terminal under go test, so there is no colour.
	logger := slog.New(handler.Console(os.Stdout, &handler.ConsoleOptions{ReplaceAttr: noTime}))
	logger.Info("comment created", "user_id", 7, slog.Group("video", "id", 42, "title", "Go in 100s"))
	// Output:
	// INF comment created user_id=7 video.id=42 video.title="Go in 100s"
}

func ExampleMinLevel() {
	h := slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: noTime})
	logger := slog.New(handler.MinLevel(h, slog.LevelWarn))
	logger.Info("hidden")
	logger.Warn("shown")
	// Output:
	// {"level":"WARN","msg":"shown"}
}

func ExampleBudget() {
	m := map[string]any{"user": "ann"}
	m["self"] = m
	h := handler.Redact(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: noTime}),
		&handler.RedactOptions{Budget: handler.Budget{MaxValueBytes: 12}})
	slog.New(h).Info("budget", "m", m, "long", "0123456789abcdef", "db_password", "hunter2")
	// Output:
	// {"level":"INFO","msg":"budget","m":{"self":"!CYCLE","user":"ann"},"long":"0123456789ab!TRUNCATED","db_password":"[REDACTED]"}
}
