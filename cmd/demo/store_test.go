package main

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/jmoiron/sqlx"
)

// SQLite takes one writer at a time; the Store lets one write at a time
// through, so that no connection meets a locked database. Here SQLite's
// busy handler is off (busy_timeout 0), so a write that met the lock
// would fail with SQLITE_BUSY rather than sleep and hide it.
func TestStoreWritesOneAtATime(t *testing.T) {
	dsn := "file:" + filepath.Join(t.TempDir(), "demo.db") + "?_pragma=busy_timeout(0)&_pragma=journal_mode(WAL)"
	db, err := sqlx.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(4)
	s := NewStore(db, "sqlite")
	ctx := context.Background()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	const writers, each = 8, 100
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				c := Comment{VideoID: int64(w%3 + 1), UserID: 1, Body: "x"}
				if err := s.Create(ctx, &c); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("a concurrent write failed: %v", err)
	}
	if n, err := s.Count(ctx); err != nil || n != writers*each {
		t.Fatalf("count = %d, %v; want %d", n, err, writers*each)
	}

	// A write waiting for its turn gives up with its request.
	s.writes <- struct{}{} // another write holds the turn
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Create(cctx, &Comment{VideoID: 1, UserID: 1, Body: "x"}); err != context.Canceled {
		t.Errorf("Create with its context ended while waiting = %v, want context.Canceled", err)
	}
	<-s.writes
}
