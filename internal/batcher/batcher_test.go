package batcher

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/realtimeserver/observability/drop"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type sink struct {
	mu      sync.Mutex
	got     []int
	batches []int
	fail    atomic.Bool
	block   chan struct{} // when set, exports wait on it or ctx
}

func (s *sink) export(ctx context.Context, b []int) error {
	if s.block != nil {
		select {
		case <-s.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if s.fail.Load() {
		return errors.New("receiver down")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, b...)
	s.batches = append(s.batches, len(b))
	return nil
}

func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

func TestDeliversInOrderOnFlush(t *testing.T) {
	s := &sink{}
	b := New(s.export, Options{MaxBatch: 4, Delay: time.Hour})
	for i := range 10 {
		if !b.Add(i) {
			t.Fatalf("Add(%d) refused", i)
		}
	}
	if err := b.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i, v := range s.got {
		if v != i {
			t.Fatalf("got %v, want 0..9 in order", s.got)
		}
	}
	if len(s.got) != 10 {
		t.Fatalf("delivered %d, want 10", len(s.got))
	}
	for _, n := range s.batches {
		if n > 4 {
			t.Errorf("batch of %d, want at most MaxBatch 4", n)
		}
	}
	if st := b.Stats(); st.Exported != 10 || st.Dropped.Total() != 0 || st.Queued != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestFullBatchGoesWithoutWaiting(t *testing.T) {
	s := &sink{}
	b := New(s.export, Options{MaxBatch: 5, Delay: time.Hour})
	defer b.Close(context.Background())
	for i := range 5 {
		b.Add(i)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.count() < 5 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := s.count(); n != 5 {
		t.Errorf("a full batch was not exported before Delay: %d delivered", n)
	}
}

func TestDelayExports(t *testing.T) {
	s := &sink{}
	b := New(s.export, Options{Delay: 20 * time.Millisecond})
	defer b.Close(context.Background())
	b.Add(1)
	deadline := time.Now().Add(5 * time.Second)
	for s.count() < 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if s.count() != 1 {
		t.Error("an item was not exported after Delay")
	}
}

// TestAddNeverBlocks: with the receiver stuck, Add returns at once and the
// items past MaxQueue are counted.
func TestAddNeverBlocks(t *testing.T) {
	s := &sink{block: make(chan struct{})}
	b := New(s.export, Options{MaxQueue: 8, MaxBatch: 2, Delay: time.Millisecond})
	start := time.Now()
	refused := 0
	for i := range 1000 {
		if !b.Add(i) {
			refused++
		}
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("1000 Adds took %v with a stuck receiver", took)
	}
	st := b.Stats()
	if got := st.Dropped.Get(drop.QueueFull); got != uint64(refused) || refused < 1000-8-2 {
		t.Errorf("queue_full = %d, refused = %d; want every refusal counted", got, refused)
	}
	if st.Queued > 8 {
		t.Errorf("queued %d, past MaxQueue 8", st.Queued)
	}
	close(s.block)
	if err := b.Close(context.Background()); err == nil || !strings.Contains(err.Error(), "queue_full") {
		t.Errorf("Close = %v; want the drops reported", err)
	}
}

func TestExportFailureCounted(t *testing.T) {
	s := &sink{}
	s.fail.Store(true)
	b := New(s.export, Options{Delay: time.Hour})
	for i := range 3 {
		b.Add(i)
	}
	err := b.Flush(context.Background())
	if err == nil || !strings.Contains(err.Error(), "receiver down") {
		t.Errorf("Flush = %v; want the export error", err)
	}
	st := b.Stats()
	if st.Dropped.Get(drop.RetriesExhausted) != 3 || st.LastError == nil {
		t.Errorf("stats = %+v; want 3 retries_exhausted", st)
	}
	s.fail.Store(false)
	b.Add(9)
	if err := b.Flush(context.Background()); err != nil {
		t.Errorf("Flush after recovery = %v", err)
	}
	err = b.Close(context.Background())
	if err == nil || !strings.Contains(err.Error(), "3 items not delivered") {
		t.Errorf("Close = %v; want the 3 failures reported", err)
	}
}

// TestCloseHonoursDeadline: a receiver that never answers cannot hold Close
// past its deadline, and what was left is counted as closed.
func TestCloseHonoursDeadline(t *testing.T) {
	s := &sink{block: make(chan struct{})}
	defer close(s.block)
	b := New(s.export, Options{MaxBatch: 2, Delay: time.Hour})
	for i := range 6 {
		b.Add(i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := b.Close(ctx)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Close took %v past a 100ms deadline", took)
	}
	if err == nil || !strings.Contains(err.Error(), "6 items not delivered") {
		t.Errorf("Close = %v; want 6 items reported", err)
	}
	if n := b.Stats().Dropped.Get(drop.Closed); n != 6 {
		t.Errorf("closed = %d, want 6", n)
	}
	if b.Add(1) {
		t.Error("Add after Close was accepted")
	}
	if n := b.Stats().Dropped.Get(drop.Closed); n != 7 {
		t.Errorf("closed after a late Add = %d, want 7", n)
	}
	if err2 := b.Close(context.Background()); err2 != err {
		t.Errorf("second Close = %v, want the first result", err2)
	}
}

func TestExportPanicSurvives(t *testing.T) {
	var calls atomic.Int32
	b := New(func(ctx context.Context, items []int) error {
		if calls.Add(1) == 1 {
			panic("exporter bug")
		}
		return nil
	}, Options{Delay: time.Hour})
	b.Add(1)
	if err := b.Flush(context.Background()); err == nil {
		t.Error("Flush hid a panicking export")
	}
	b.Add(2)
	if err := b.Flush(context.Background()); err != nil {
		t.Errorf("the worker did not survive a panic: %v", err)
	}
	b.Close(context.Background())
}

// TestFlushUnderLoad: Flush returns though producers keep adding.
func TestFlushUnderLoad(t *testing.T) {
	s := &sink{}
	b := New(s.export, Options{MaxQueue: 10000, MaxBatch: 10, Delay: time.Hour})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
					b.Add(i)
					runtime.Gosched()
				}
			}
		}()
	}
	time.Sleep(10 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := b.Flush(ctx); err != nil {
		t.Errorf("Flush under load: %v", err)
	}
	close(stop)
	wg.Wait()
	b.Close(context.Background())
	st := b.Stats()
	if st.Exported+st.Dropped.Total() == 0 {
		t.Error("nothing accounted")
	}
}

func TestNilExportPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New(nil) did not panic")
		}
	}()
	New[int](nil, Options{})
}
