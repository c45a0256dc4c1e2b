package livedash

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
)

// payload and message are what record i carries: lengths that vary from
// nothing to a few KiB, so the text buffer wraps at every offset.
func payload(i int) string {
	n := (i * 7919) % 1000
	if i%11 == 0 {
		n = 0
	}
	return strings.Repeat(string(rune('a'+i%26)), n)
}

func message(i int) string { return fmt.Sprintf("m%d ", i) + strings.Repeat("x", (i*31)%4000) }

// checkKept asserts that every kept record reads back exactly as logged.
func checkKept(t *testing.T, es []entry) {
	t.Helper()
	for k := range es {
		e := &es[k]
		var i int
		if _, err := fmt.Sscanf(e.msg, "m%d", &i); err != nil || e.msg != message(i) {
			t.Fatalf("message %.20q…: %v", e.msg, err)
		}
		got := map[string]string{}
		eachKV(e.own, func(k, v []byte) { got[string(k)] = string(v) })
		want := map[string]string{"i": fmt.Sprint(i), "p": payload(i), "request_id": fmt.Sprintf("r%d", i)}
		if len(got) != len(want) || got["i"] != want["i"] || got["p"] != want["p"] || got["request_id"] != want["request_id"] {
			t.Fatalf("record %d read back as %q, %v", i, e.msg, got)
		}
		if e.rid != want["request_id"] {
			t.Fatalf("record %d: request id %q", i, e.rid)
		}
		if k > 0 && e.seq != es[k-1].seq+1 {
			t.Fatalf("entries not consecutive: %d then %d", es[k-1].seq, e.seq)
		}
	}
}

// Records of every size go round the text buffer many times; each kept
// record reads back as it was logged, and the bounds hold throughout.
func TestRingTextWrapsIntact(t *testing.T) {
	for _, opts := range []RingOptions{
		{MaxRecords: 1000, MaxBytes: minArena},      // the buffer's room binds
		{MaxRecords: 1000, MaxBytes: 20 << 10},      // the byte bound binds
		{MaxRecords: 7, MaxBytes: DefaultRingBytes}, // the record bound binds
	} {
		t.Run(fmt.Sprintf("%d records %d bytes", opts.MaxRecords, opts.MaxBytes), func(t *testing.T) {
			r := NewRing(keepAll(&opts))
			l := slog.New(r)
			for i := range 3000 {
				l.Info(message(i), "i", i, "p", payload(i), "request_id", fmt.Sprintf("r%d", i))
				st := r.Stats()
				if st.Records > opts.MaxRecords || st.Bytes > opts.MaxBytes || st.Records == 0 {
					t.Fatalf("after %d records: %+v", i+1, st)
				}
				if i%97 == 0 || i > 2990 {
					es := r.st.entries(0, 0)
					checkKept(t, es)
					if es[len(es)-1].msg != message(i) {
						t.Fatalf("newest kept is %.20q…, want m%d", es[len(es)-1].msg, i)
					}
				}
			}
		})
	}
}

// Readers copy what they read while writers go on: under -race this shows
// that no reader touches the text buffer outside the lock.
func TestRingReadersWhileWriting(t *testing.T) {
	r := NewRing(keepAll(&RingOptions{MaxRecords: 200, MaxBytes: minArena}))
	l := slog.New(r)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < 4000; i += 2 {
				l.Info(message(i), "i", i, "p", payload(i), "request_id", fmt.Sprintf("r%d", i))
			}
		}()
	}
	readers := sync.WaitGroup{}
	var errs []string
	var mu sync.Mutex
	for range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				es := r.st.entries(uint64(rand.IntN(3000)), rand.IntN(50))
				es = append(es, r.st.withMessage(message(7), 5)...)
				for _, e := range es {
					var i int
					fmt.Sscanf(e.msg, "m%d", &i)
					var p string
					eachKV(e.own, func(k, v []byte) {
						if string(k) == "p" {
							p = string(v)
						}
					})
					if e.msg != message(i) || p != payload(i) || e.rid != fmt.Sprintf("r%d", i) {
						mu.Lock()
						errs = append(errs, fmt.Sprintf("%s: payload of %d bytes, request id %q", e.msg, len(p), e.rid))
						mu.Unlock()
					}
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d records read back wrong, first: %s", len(errs), errs[0])
	}
	checkKept(t, r.st.entries(0, 0))
}

// A group's name is a key like any other: cut to its budget and marked,
// in a record as in WithGroup.
func TestRingLongGroupName(t *testing.T) {
	r := NewRing(keepAll(nil))
	long := strings.Repeat("g", 5000)
	slog.New(r).Info("m", slog.Group(long, slog.String("k", "v")))
	slog.New(r).WithGroup(long).Info("m", "k", "v")
	for _, e := range r.st.entries(0, 0) {
		j := toJSON(&e)
		if len(j.Attrs) == 0 || len(j.Attrs[0][0]) > maxKeyBytes+len(".k") {
			t.Errorf("attrs = %.80q, want the group name cut to %d bytes", j.Attrs, maxKeyBytes)
		}
	}
	if j := toJSON(&r.st.entries(0, 1)[0]); len(j.Attrs) != 1 {
		t.Errorf("WithGroup: attrs = %.80q", j.Attrs)
	}
	if j := toJSON(&r.st.entries(0, 0)[0]); len(j.Attrs) != 2 || j.Attrs[1] != [2]string{TruncatedKey, "true"} {
		t.Errorf("record group: attrs = %.80q, want the cut marked", j.Attrs)
	}
}

// A drain takes the staged records of every processor oldest first, and
// a record too large for a stage goes to the ring after what was staged
// before it.
func TestRingStagesDrainInTimeOrder(t *testing.T) {
	r := NewRing(keepAll(nil))
	s := r.st
	s.once.Do(s.alloc)
	if len(s.stages) < 2 {
		s.stages = append(s.stages, stage{text: make([]byte, stageBytes)})
		s.cursor = make([]int, len(s.stages))
	}
	t0 := time.Now().Add(-time.Second)
	put := func(st *stage, i int) {
		msg := fmt.Sprint(i)
		sl := slot{time: t0.Add(time.Duration(i) * time.Millisecond), msgN: int32(len(msg)), size: int32(len(msg) + entryOverhead)}
		if !st.add(&sl, msg, false, nil) {
			t.Fatalf("stage full at record %d", i)
		}
	}
	for i := 1; i <= 6; i += 2 {
		put(&s.stages[1], i) // 1 3 5 on one processor
		put(&s.stages[0], i+1)
	}
	var attrs []any // 12 values of 1 KiB: more than a stage holds
	for i := range 12 {
		attrs = append(attrs, fmt.Sprint("k", i), strings.Repeat("v", maxValueBytes))
	}
	slog.New(r).Info("b", attrs...)
	var got []string
	for _, e := range s.entries(0, 0) {
		got = append(got, e.msg[:1])
	}
	if strings.Join(got, "") != "123456b" {
		t.Errorf("kept in the order %q, want 1 2 3 4 5 6 then the large one", got)
	}
	// A full stage is refused, and the next record drains it first.
	for i := range stageRecs {
		put(&s.stages[0], 10+i)
	}
	sl := slot{time: t0, msgN: 1}
	if s.stages[0].add(&sl, "x", false, nil) {
		t.Error("a full stage took one more record")
	}
	if e := s.entries(6, 0); len(e) == 0 || e[0].msg != "b" || len(e[0].own) <= stageBytes {
		t.Errorf("after the staged records: %d entries, want first the large one, with more than a stage's %d bytes", len(e), stageBytes)
	}
	if st := r.Stats(); st.Handled != 7+stageRecs || st.Records != int(st.Handled) {
		t.Errorf("stats = %+v, want every record handled and kept", st)
	}
}
