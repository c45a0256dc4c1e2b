package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// simulation drives the server the way real users would, over real HTTP and
// WebSocket connections, so that every dashboard has data within a minute.
type simulation struct {
	base   string // http://host:port
	users  int
	videos int
	every  time.Duration // between one user's actions
	log    *slog.Logger
	client *http.Client
}

// run starts the virtual users and returns when ctx ends and all have left.
func (s *simulation) run(ctx context.Context) {
	var wg sync.WaitGroup
	for i := range s.users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Spread the starts so the load is steady, not a pulse.
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Duration(i) * s.every / time.Duration(max(s.users, 1))):
			}
			s.user(ctx, int64(i+1))
		}()
	}
	wg.Wait()
}

// user is one virtual user: joins a video's channel, then comments over
// HTTP (and now and then over the socket), reads the list, and sometimes
// sends something invalid, so that the rejection counters move too.
func (s *simulation) user(ctx context.Context, userID int64) {
	rng := rand.New(rand.NewPCG(uint64(userID), uint64(time.Now().UnixNano())))
	for ctx.Err() == nil {
		video := int64(1 + rng.IntN(max(s.videos, 1)))
		s.session(ctx, rng, userID, video)
	}
}

// session is one connection's life: a few dozen actions, then leave.
func (s *simulation) session(ctx context.Context, rng *rand.Rand, userID, video int64) {
	wsURL := "ws" + strings.TrimPrefix(s.base, "http") + "/socket?channel=" + videoChannel(video)
	conn, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPClient: s.client})
	if err != nil {
		if ctx.Err() == nil {
			s.log.Debug("simulated user could not connect", "user_id", userID, "error", err)
			sleep(ctx, s.every)
		}
		return
	}
	defer conn.CloseNow()
	// Drain broadcasts and acks so the server never sees a slow consumer.
	go func() {
		for {
			if _, _, err := conn.Read(ctx); err != nil {
				return
			}
		}
	}()
	actions := 10 + rng.IntN(40)
	for i := 0; i < actions && ctx.Err() == nil; i++ {
		sleep(ctx, s.every/2+time.Duration(rng.Int64N(int64(s.every))))
		switch r := rng.IntN(100); {
		case r < 55:
			s.post(ctx, video, userID, fmt.Sprintf("comment %d from user %d", i, userID))
		case r < 75:
			msg := fmt.Sprintf(`{"event":"comment.create","ref":"%d","payload":{"user_id":%d,"body":"live comment %d"}}`, i, userID, i)
			_ = conn.Write(ctx, websocket.MessageText, []byte(msg))
		case r < 95:
			s.get(ctx, fmt.Sprintf("%s/api/videos/%d/comments?limit=20", s.base, video))
		case r < 98:
			s.postRaw(ctx, video, `{"user_id": 1, "body": `) // malformed: a 400
		default:
			s.get(ctx, s.base+"/api/videos/not-a-number/comments") // a 400
		}
	}
	_ = conn.Close(websocket.StatusNormalClosure, "bye")
}

func (s *simulation) post(ctx context.Context, video, userID int64, body string) {
	b, _ := json.Marshal(map[string]any{"user_id": userID, "body": body})
	s.postRaw(ctx, video, string(b))
}

func (s *simulation) postRaw(ctx context.Context, video int64, body string) {
	url := fmt.Sprintf("%s/api/videos/%d/comments", s.base, video)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewBufferString(body))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/json")
	s.do(req)
}

func (s *simulation) get(ctx context.Context, url string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return
	}
	s.do(req)
}

func (s *simulation) do(req *http.Request) {
	resp, err := s.client.Do(req)
	if err != nil {
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
