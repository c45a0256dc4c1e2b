// Package handler provides the slog handlers of the kit: [Console] for
// people at a terminal, [JSON] for JSON lines (slog's JSON output, faster),
// [Fanout] to send one record to several backends,
// [Redact] to keep secrets out of every backend, [ParseLevel] for the
// LOG_LEVEL words and [MinLevel] to narrow one backend's level.
//
// A typical pipeline redacts first, then fans out:
//
//	level, err := handler.ParseLevel(os.Getenv("LOG_LEVEL"))
//	if err != nil {
//		return err
//	}
//	console := handler.Console(os.Stderr, &handler.ConsoleOptions{Level: level})
//	json := slog.NewJSONHandler(file, &slog.HandlerOptions{Level: level})
//	slog.SetDefault(slog.New(handler.Redact(handler.Fanout(console, json), nil)))
//
//	slog.Info("login", "user", "ann", "password", "hunter2") // password=[REDACTED]
//
// Every record is held to a [Budget] by Console and Redact: depth, number
// of attributes, size of a value and of the record, with cycles detected;
// past a budget a marker is written and the record goes on.
//
// Every handler here passes testing/slogtest, never changes the record it
// is given, and is safe for concurrent use, as are the handlers derived
// from it with WithAttrs and WithGroup.
package handler
