package metricsink

import (
	"log/slog"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/realtimeserver/observability/drop"
)

// Funcs holds a backend's GaugeFunc and CounterFunc callbacks and reads
// them (at a scrape, a poll, an export): each in a goroutine of its own,
// without any lock held, waiting at most the timeout for all of them
// together. A callback that misses the timeout is counted (reason timeout)
// and not called again until it returns, so one that blocks for ever costs
// one goroutine and each read at most the timeout; one that panics is
// counted (reason panic). Its methods are safe for concurrent use. Build it
// with NewFuncs.
type Funcs struct {
	timeout time.Duration
	drops   *Drops
	resets  bool

	mu   sync.Mutex
	list []*Func
}

// Func is one registered callback.
type Func struct {
	// Name, Kind and Data are what Add was given: Data is the backend's
	// (its series).
	Name string
	Kind Kind
	Data any

	f    func() float64
	busy atomic.Bool // a call is in flight
	gone atomic.Bool // unregistered

	mu   sync.Mutex // counters: the last good value
	last float64
}

// Reading is what one read of a Func gave.
type Reading struct {
	F *Func
	// Value is the value read. For a counter it is the last good value
	// when the read was refused (not finite, negative, or smaller than
	// the last one) or panicked.
	Value float64
	// OK is false when the callback gave no value: a gauge's that
	// panicked.
	OK bool
}

// NewFuncs returns an empty Funcs that waits timeout for a read and counts
// into drops. With counterResets, a CounterFunc value smaller than the
// last one is taken as a reset (a delta backend sends it whole); without,
// it is refused (reason invalid_value) and the last good value stays.
func NewFuncs(timeout time.Duration, drops *Drops, counterResets bool) *Funcs {
	return &Funcs{timeout: timeout, drops: drops, resets: counterResets}
}

// Add registers f as the source of a series of the metric name, of kind k
// (Counter or Gauge), with the backend's data, and returns the function
// that unregisters it. Once that returns, f is not called again: it waits
// for a call in flight, at most the timeout. Calling it more than once is
// harmless.
func (fs *Funcs) Add(name string, k Kind, f func() float64, data any) (*Func, func()) {
	fn := &Func{Name: name, Kind: k, Data: data, f: f}
	fs.mu.Lock()
	fs.list = append(fs.list, fn)
	fs.mu.Unlock()
	var once sync.Once
	return fn, func() {
		once.Do(func() {
			fn.gone.Store(true)
			fs.mu.Lock()
			for i, x := range fs.list {
				if x == fn {
					fs.list = append(fs.list[:i:i], fs.list[i+1:]...)
					break
				}
			}
			fs.mu.Unlock()
			for deadline := time.Now().Add(fs.timeout); fn.busy.Load() && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
		})
	}
}

// Gone reports whether fn was unregistered: a backend leaves out a
// reading of a function unregistered while it was read.
func (fn *Func) Gone() bool { return fn.gone.Load() }

// Len returns the number of registered callbacks.
func (fs *Funcs) Len() int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return len(fs.list)
}

// Read calls every registered callback and returns the readings of those
// that returned within the timeout, in no particular order.
func (fs *Funcs) Read() []Reading {
	fs.mu.Lock()
	funcs := append([]*Func(nil), fs.list...)
	fs.mu.Unlock()
	if len(funcs) == 0 {
		return nil
	}
	ch := make(chan Reading, len(funcs)) // never blocks a late callback
	started := 0
	for _, fn := range funcs {
		if fn.gone.Load() {
			continue
		}
		if !fn.busy.CompareAndSwap(false, true) {
			fs.drops.Add(drop.Timeout, 1) // still running from an earlier read
			continue
		}
		started++
		go func() {
			var r Reading
			if !fn.gone.Load() { // unregistered while this goroutine started
				r = fs.call(fn)
			}
			fn.busy.Store(false)
			ch <- r
		}()
	}
	out := make([]Reading, 0, started)
	if started == 0 {
		return out
	}
	timer := time.NewTimer(fs.timeout)
	defer timer.Stop()
	for got := 0; got < started; got++ {
		select {
		case r := <-ch:
			if r.F != nil {
				out = append(out, r)
			}
		case <-timer.C:
			fs.drops.Add(drop.Timeout, uint64(started-got))
			fs.drops.Warn("timeout", "a GaugeFunc or CounterFunc callback did not return in time; its series is left out until it does",
				slog.Duration("timeout", fs.timeout))
			fs.drops.Emit()
			return out
		}
	}
	fs.drops.Emit()
	return out
}

// call reads fn, recovering a panic, and applies the counter rules.
func (fs *Funcs) call(fn *Func) (r Reading) {
	r.F = fn
	defer func() {
		if x := recover(); x != nil {
			fs.drops.Add(drop.Panic, 1)
			fs.drops.Warn("panic\x00"+fn.Name, "recovered from a panic in a GaugeFunc or CounterFunc callback",
				slog.String("metric", cutName(fn.Name)), slog.Any("panic", x))
			r.OK = fn.Kind == Counter
			if r.OK {
				fn.mu.Lock()
				r.Value = fn.last
				fn.mu.Unlock()
			}
		}
	}()
	v := fn.f()
	if fn.Kind != Counter {
		return Reading{F: fn, Value: v, OK: true}
	}
	fn.mu.Lock()
	last := fn.last
	good := v >= 0 && v <= math.MaxFloat64 && (v >= last || fs.resets)
	if good {
		fn.last = v
	}
	fn.mu.Unlock()
	if !good {
		fs.drops.Queue(drop.InvalidValue, Counter, fn.Name, "a CounterFunc read "+strconv.FormatFloat(v, 'g', -1, 64)+
			" after "+strconv.FormatFloat(last, 'g', -1, 64)+"; counters must be finite and never decrease")
		return Reading{F: fn, Value: last, OK: true}
	}
	return Reading{F: fn, Value: v, OK: true}
}
