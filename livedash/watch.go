package livedash

import (
	"sync"
	"sync/atomic"
	"time"
)

// watchers tells what the dashboard keeps for its pages (the Ring's
// records, the Spans) whether anyone watches: a page open now, or one
// closed within after. While nobody does, they keep less and cost less.
// Copies share one count.
type watchers struct {
	after time.Duration
	count *atomic.Int32 // open pages, and closed ones within after
}

func newWatchers(after time.Duration) watchers {
	return watchers{after: after, count: new(atomic.Int32)}
}

// watched reports whether a page is open, or closed within after.
func (w watchers) watched() bool { return w.count.Load() > 0 }

// watch marks the store watched until release is called and after has
// passed since. Calling release again does nothing.
func (w watchers) watch() (release func()) {
	n := w.count // the timer keeps the count alive, not the store's buffers
	n.Add(1)
	var once sync.Once
	return func() {
		once.Do(func() { time.AfterFunc(w.after, func() { n.Add(-1) }) })
	}
}
