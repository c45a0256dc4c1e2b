package deliver

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
	"github.com/realtimeserver/observability/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// receiver stands for a receiver of batches of ints: it answers as
// answer says (nil: accepted), records what it accepted, and may hang.
type receiver struct {
	mu       sync.Mutex
	got      []int
	batches  []int
	attempts []time.Time
	answer   func(n int) Result // n counts attempts from 0
	block    chan struct{}      // when set, attempts wait on it or ctx
}

func (rc *receiver) send(ctx context.Context, b *[]int, lo, hi, _ int) Result {
	rc.mu.Lock()
	n := len(rc.attempts)
	rc.attempts = append(rc.attempts, time.Now())
	answer, block := rc.answer, rc.block
	rc.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return Result{Err: ctx.Err()}
		}
	}
	if answer != nil {
		if r := answer(n); r.Err != nil || r.Status >= 300 {
			return r
		}
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.got = append(rc.got, (*b)[lo:hi]...)
	rc.batches = append(rc.batches, hi-lo)
	return Result{}
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.got)
}

func (rc *receiver) tries() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.attempts)
}

// fast are retry timings for tests that run in milliseconds.
func fast(o Options) *Options {
	o.RetryBase, o.RetryMax = time.Millisecond, 10*time.Millisecond
	if o.ErrorOutput == nil {
		o.ErrorOutput = &testenv.Buffer{}
	}
	return &o
}

func newIntQueue(rc *receiver, o *Options) *Queue[int, []int] {
	return started(NewQueue[int, []int](&SliceStore[int]{}, rc.send, o))
}

func started[T, B any](q *Queue[T, B]) *Queue[T, B] {
	q.Start()
	return q
}

func checkInvariant(t *testing.T, s Stats) {
	t.Helper()
	if s.Sent+s.Dropped.Total()+uint64(s.QueueLength) != s.Enqueued {
		t.Errorf("Sent %d + Dropped %d + QueueLength %d != Enqueued %d", s.Sent, s.Dropped.Total(), s.QueueLength, s.Enqueued)
	}
}

func TestDeliversInOrderOnFlush(t *testing.T) {
	rc := &receiver{}
	q := newIntQueue(rc, fast(Options{MaxBatch: 4, FlushInterval: time.Hour}))
	for i := range 10 {
		if !q.Push(i, 1) {
			t.Fatalf("Push(%d) refused", i)
		}
	}
	if err := q.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i, v := range rc.got {
		if v != i {
			t.Fatalf("got %v, want 0..9 in order", rc.got)
		}
	}
	if len(rc.got) != 10 {
		t.Fatalf("delivered %d, want 10", len(rc.got))
	}
	for _, n := range rc.batches {
		if n > 4 {
			t.Errorf("batch of %d, want at most MaxBatch 4", n)
		}
	}
	if st := q.Stats(); st.Sent != 10 || st.Dropped.Total() != 0 || st.QueueLength != 0 || st.QueueBytes != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestBatchBytes(t *testing.T) {
	rc := &receiver{}
	q := newIntQueue(rc, fast(Options{MaxBatch: 100, MaxBatchBytes: 10, ItemOverhead: 1, FlushInterval: time.Hour}))
	for i := range 9 {
		q.Push(i, 4) // 5 bytes with the overhead: two to a batch
	}
	if err := q.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := []int{2, 2, 2, 2, 1}; len(rc.batches) != len(want) {
		t.Errorf("batches = %v, want %v", rc.batches, want)
	}
}

func TestFullBatchGoesWithoutWaiting(t *testing.T) {
	rc := &receiver{}
	q := newIntQueue(rc, fast(Options{MaxBatch: 5, FlushInterval: time.Hour}))
	defer q.Close(context.Background())
	for i := range 5 {
		q.Push(i, 1)
	}
	deadline := time.Now().Add(5 * time.Second)
	for rc.count() < 5 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := rc.count(); n != 5 {
		t.Errorf("a full batch was not sent before FlushInterval: %d delivered", n)
	}
}

func TestFlushIntervalSends(t *testing.T) {
	rc := &receiver{}
	q := newIntQueue(rc, fast(Options{FlushInterval: 20 * time.Millisecond}))
	defer q.Close(context.Background())
	q.Push(1, 1)
	deadline := time.Now().Add(5 * time.Second)
	for rc.count() < 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if rc.count() != 1 {
		t.Error("an item was not sent after FlushInterval")
	}
}

// TestPushNeverBlocks: with the receiver stuck, Push returns at once and
// the items past MaxQueue are counted.
func TestPushNeverBlocks(t *testing.T) {
	rc := &receiver{block: make(chan struct{})}
	q := newIntQueue(rc, fast(Options{MaxQueue: 8, MaxBatch: 2, FlushInterval: time.Millisecond}))
	start := time.Now()
	refused := 0
	for i := range 1000 {
		if !q.Push(i, 1) {
			refused++
		}
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("1000 Pushes took %v with a stuck receiver", took)
	}
	st := q.Stats()
	checkInvariant(t, st)
	if got := st.Dropped.Get(drop.QueueFull); got != uint64(refused) || refused < 1000-8 {
		t.Errorf("queue_full = %d, refused = %d; want every refusal counted", got, refused)
	}
	if st.QueueLength > 8 {
		t.Errorf("queued %d, past MaxQueue 8", st.QueueLength)
	}
	close(rc.block)
	if err := q.Close(context.Background()); err != nil {
		t.Errorf("Close = %v; want what was queued delivered", err)
	}
	if n := rc.count(); n != 1000-refused {
		t.Errorf("delivered %d, want the %d queued", n, 1000-refused)
	}
}

// TestFailuresByKind: a 404 is rejected at once; a retryable failure is
// retried until MaxRetryElapsed, then counted as retries_exhausted; a
// panicking send is rejected and the sender survives it.
func TestFailuresByKind(t *testing.T) {
	tests := []struct {
		name   string
		answer Result
		want   drop.Reason
		tries  func(int) bool
	}{
		{"404", Result{Status: 404}, drop.Rejected, func(n int) bool { return n == 1 }},
		{"401", Result{Status: 401}, drop.Rejected, func(n int) bool { return n == 1 }},
		{"permanent", Result{Err: Permanent(errors.New("cannot encode"))}, drop.Rejected, func(n int) bool { return n == 1 }},
		{"503", Result{Status: 503}, drop.RetriesExhausted, func(n int) bool { return n > 1 }},
		{"network", Result{Err: errors.New("connection reset")}, drop.RetriesExhausted, func(n int) bool { return n > 1 }},
		{"413 alone", Result{Status: 413}, drop.TooLarge, func(n int) bool { return n == 1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := &receiver{answer: func(int) Result { return tt.answer }}
			out := &testenv.Buffer{}
			q := newIntQueue(rc, fast(Options{Name: "test", MaxBatch: 1, FlushInterval: time.Hour, MaxRetryElapsed: 200 * time.Millisecond, ErrorOutput: out}))
			q.Push(1, 1)
			if err := q.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			st := q.Stats()
			if st.Dropped.Get(tt.want) != 1 || st.Dropped.Total() != 1 || st.LastError == "" {
				t.Errorf("stats = %+v; want one %s", st, tt.want)
			}
			if n := rc.tries(); !tt.tries(n) {
				t.Errorf("%d attempts", n)
			}
			if lines := strings.Count(out.String(), "test: delivery is failing"); lines != 1 {
				t.Errorf("ErrorOutput = %q, want one outage line", out)
			}
			if err := q.Close(context.Background()); err != nil {
				t.Errorf("Close = %v; nothing was queued when it began", err)
			}
		})
	}
	rc := &receiver{}
	var calls atomic.Int32
	q := started(NewQueue[int, []int](&SliceStore[int]{}, func(ctx context.Context, b *[]int, lo, hi, k int) Result {
		if calls.Add(1) == 1 {
			panic("send bug")
		}
		return rc.send(ctx, b, lo, hi, k)
	}, fast(Options{FlushInterval: time.Hour})))
	q.Push(1, 1)
	q.Flush(context.Background())
	q.Push(2, 1)
	q.Flush(context.Background())
	q.Close(context.Background())
	if st := q.Stats(); st.Dropped.Get(drop.Rejected) != 1 || st.Sent != 1 || !strings.Contains(st.LastError, "send bug") {
		t.Errorf("after a panic: %+v; want one rejected, one sent", st)
	}
}

// TestSplitOn413: a batch answered 413 is split until its halves fit.
func TestSplitOn413(t *testing.T) {
	rc := &receiver{}
	q := started(NewQueue[int, []int](&SliceStore[int]{}, func(ctx context.Context, b *[]int, lo, hi, k int) Result {
		if hi-lo > 2 {
			return Result{Status: 413}
		}
		return rc.send(ctx, b, lo, hi, k)
	}, fast(Options{FlushInterval: time.Hour})))
	for i := range 7 {
		q.Push(i, 1)
	}
	if err := q.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(rc.got) != 7 {
		t.Errorf("got %v, want all 7", rc.got)
	}
}

// TestCloseHonoursDeadline: a receiver that never answers cannot hold
// Close past its deadline, and what was left is counted as closed.
func TestCloseHonoursDeadline(t *testing.T) {
	rc := &receiver{block: make(chan struct{})}
	defer close(rc.block)
	q := newIntQueue(rc, fast(Options{Noun: "spans", MaxBatch: 2, FlushInterval: time.Hour}))
	for i := range 6 {
		q.Push(i, 1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := q.Close(ctx)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Close took %v past a 100ms deadline", took)
	}
	if err == nil || !strings.Contains(err.Error(), "close: 6 spans undelivered (6 closed)") || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close = %v; want 6 spans reported, and the deadline", err)
	}
	if ReasonOf(err) != drop.Closed {
		t.Errorf("ReasonOf(%v) = %v", err, ReasonOf(err))
	}
	if n := q.Stats().Dropped.Get(drop.Closed); n != 6 {
		t.Errorf("closed = %d, want 6", n)
	}
	if q.Push(1, 1) {
		t.Error("Push after Close was accepted")
	}
	st := q.Stats()
	checkInvariant(t, st)
	if n := st.Dropped.Get(drop.Closed); n != 7 {
		t.Errorf("closed after a late Push = %d, want 7", n)
	}
	if err2 := q.Close(context.Background()); err2 != err {
		t.Errorf("second Close = %v, want the first result", err2)
	}
}

// TestCloseRetriesPastAHang: the receiver hangs every attempt made in
// the first 1.5 s, a batch among them already in flight when Close(6 s)
// begins, then accepts: every item arrives, since each attempt during
// Close is bounded by a third of the time left.
func TestCloseRetriesPastAHang(t *testing.T) {
	start := time.Now()
	var hung atomic.Int32
	rc := &receiver{}
	q := started(NewQueue[int, []int](&SliceStore[int]{}, func(ctx context.Context, b *[]int, lo, hi, k int) Result {
		if time.Since(start) < 1500*time.Millisecond {
			hung.Add(1)
			<-ctx.Done()
			return Result{Err: ctx.Err()}
		}
		return rc.send(ctx, b, lo, hi, k)
	}, &Options{MaxBatch: 100, Timeout: time.Minute, ErrorOutput: &testenv.Buffer{}}))
	for i := range 500 {
		q.Push(i, 1)
	}
	for hung.Load() == 0 { // a full batch is in flight
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Second)
	defer cancel()
	if err := q.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if n := rc.count(); n != 500 {
		t.Errorf("delivered %d of 500", n)
	}
}

// TestRetryAfterPausesEveryBatch: a Retry-After pauses the sender across
// batches, and the outage and recovery lines come once each.
func TestRetryAfterPausesEveryBatch(t *testing.T) {
	var limited atomic.Bool
	limited.Store(true)
	rc := &receiver{answer: func(int) Result {
		if limited.Load() {
			return Result{Status: 429, RetryAfter: 999999 * time.Second, Err: errors.New("slow down")}
		}
		return Result{}
	}}
	out := &testenv.Buffer{}
	q := newIntQueue(rc, fast(Options{Name: "otlp traces", Activity: "export", Noun: "spans", Target: "collector:4318",
		MaxBatch: 1, FlushInterval: time.Millisecond, MaxRetryAfter: 800 * time.Millisecond, ErrorOutput: out}))
	for i := range 50 {
		q.Push(i, 1)
	}
	time.Sleep(500 * time.Millisecond)
	if n := rc.tries(); n != 1 {
		t.Errorf("%d attempts within a Retry-After, want 1", n)
	}
	line := out.String()
	for _, want := range []string{"otlp traces: export is failing", "endpoint=collector:4318", `reason="429 Too Many Requests"`, "status=429", "queued="} {
		if !strings.Contains(line, want) {
			t.Errorf("outage line %q lacks %s", line, want)
		}
	}
	limited.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := rc.count(); n != 50 {
		t.Errorf("delivered %d of 50", n)
	}
	if n := strings.Count(out.String(), "\n"); n != 2 || !strings.Contains(out.String(), "otlp traces: export recovered") {
		t.Errorf("ErrorOutput = %q, want one outage and one recovery line", out)
	}
}

// TestScrubbedEverywhere: a receiver echoing a secret in its answer puts
// it in no error, no line and no Stats.
func TestScrubbedEverywhere(t *testing.T) {
	const key = "hdr-Value-0123456789"
	rc := &receiver{answer: func(n int) Result {
		if n%2 == 0 {
			return Result{Status: 400, Err: errors.New(`{"echo":"` + strings.ToUpper(key[:10]) + `"}`)}
		}
		return Result{Err: errors.New("dial " + key)}
	}}
	out := &testenv.Buffer{}
	q := newIntQueue(rc, fast(Options{Secrets: []string{key}, MaxBatch: 1, FlushInterval: time.Hour, ErrorOutput: out}))
	q.Push(1, 1)
	q.Push(2, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := q.Close(ctx)
	for what, text := range map[string]string{"LastError": q.Stats().LastError, "ErrorOutput": out.String(), "Close": err.Error()} {
		if strings.Contains(strings.ToLower(text), strings.ToLower(key[:8])) {
			t.Errorf("%s holds the secret: %q", what, text)
		}
	}
}

// TestFlushUnderLoad: Flush returns though producers keep pushing.
func TestFlushUnderLoad(t *testing.T) {
	rc := &receiver{}
	q := newIntQueue(rc, fast(Options{MaxQueue: 10000, MaxBatch: 10, FlushInterval: time.Hour}))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
					q.Push(i, 1)
					runtime.Gosched()
				}
			}
		})
	}
	time.Sleep(10 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := q.Flush(ctx); err != nil {
		t.Errorf("Flush under load: %v", err)
	}
	close(stop)
	wg.Wait()
	q.Close(context.Background())
	st := q.Stats()
	checkInvariant(t, st)
	if st.Sent == 0 {
		t.Error("nothing sent")
	}
}

// TestNeverStarted: a Queue never started queues, and Close drops what it
// holds as closed, with no goroutine to stop.
func TestNeverStarted(t *testing.T) {
	q := NewQueue[int, []int](&SliceStore[int]{}, (&receiver{}).send, nil)
	q.Push(1, 1)
	if st := q.Stats(); st.QueueLength != 1 {
		t.Errorf("stats = %+v, want one queued", st)
	}
	if err := q.Close(context.Background()); err == nil || q.Stats().Dropped.Get(drop.Closed) != 1 {
		t.Errorf("Close = %v, stats %+v; want the item dropped as closed", err, q.Stats())
	}
}

func TestNilSendPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewQueue(nil) did not panic")
		}
	}()
	NewQueue[int, []int](&SliceStore[int]{}, nil, nil)
}
