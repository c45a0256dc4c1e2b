package handler

import (
	"context"
	"fmt"
	"log/slog"
)

// Fanout returns a handler that passes each record to every child that is
// enabled for its level: log/slog's MultiHandler over children that each
// turn a panic of their own into an error.
//
//   - Enabled reports true when any child is enabled; it asks them in turn
//     and allocates nothing.
//   - Each child receives its own Record.Clone, so no child can change what
//     another sees; cloning a record does not allocate.
//   - A child that returns an error or panics does not stop the others: a
//     panic is recovered and becomes an error, and Handle returns the
//     errors of all children joined with errors.Join (nil when none failed).
//   - WithAttrs and WithGroup are passed to every child.
//
// Nil children are ignored; Fanout of no children is a handler that is
// never enabled. Handle allocates nothing beyond what the children allocate
// unless a child fails.
func Fanout(handlers ...slog.Handler) slog.Handler {
	hs := make([]slog.Handler, 0, len(handlers))
	for _, h := range handlers {
		if h != nil {
			hs = append(hs, &recoverer{h})
		}
	}
	switch len(hs) {
	case 0:
		return slog.DiscardHandler
	case 1:
		return hs[0]
	}
	return slog.NewMultiHandler(hs...)
}

// recoverer turns a panic in Handle into an error.
type recoverer struct{ h slog.Handler }

var _ slog.Handler = (*recoverer)(nil)

func (r *recoverer) Enabled(ctx context.Context, l slog.Level) bool { return r.h.Enabled(ctx, l) }

func (r *recoverer) Handle(ctx context.Context, rec slog.Record) (err error) {
	defer func() {
		if p := recover(); p != nil {
			if e, ok := p.(error); ok {
				err = e
			} else {
				err = fmt.Errorf("handler panicked: %v", p)
			}
		}
	}()
	return r.h.Handle(ctx, rec)
}

func (r *recoverer) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return r
	}
	return &recoverer{r.h.WithAttrs(attrs)}
}

func (r *recoverer) WithGroup(name string) slog.Handler {
	if name == "" {
		return r
	}
	return &recoverer{r.h.WithGroup(name)}
}
