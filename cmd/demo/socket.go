package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/realtimeserver/observability/internal/budget"
	"github.com/realtimeserver/observability/metricsink"
)

// wsConn is the part of *websocket.Conn the socket handler uses; the
// instrumented connection has the same methods.
type wsConn interface {
	Read(ctx context.Context) (websocket.MessageType, []byte, error)
	Write(ctx context.Context, typ websocket.MessageType, p []byte) error
	Close(code websocket.StatusCode, reason string) error
	CloseNow() error
	Ping(ctx context.Context) error
}

// socketEvents are the events the demo sends and accepts: the allowlist of
// the socket tracker's event label.
var socketEvents = []string{"comment.create", "comment.created", "ack", "error"}

// wrapFunc instruments an accepted connection.
type wrapFunc func(c *websocket.Conn, channel string) wsConn

// event is every message on a socket, both ways.
type event struct {
	Event   string `json:"event"`
	Ref     string `json:"ref,omitempty"`
	Payload any    `json:"payload,omitempty"`
}

// inbound is a message from a client.
type inbound struct {
	Event   string          `json:"event"`
	Ref     string          `json:"ref"`
	Payload json.RawMessage `json:"payload"`
}

// Flood control per socket: a token bucket, and a close after too many
// refusals.
const (
	socketRate        = 5.0 // messages per second, sustained
	socketBurst       = 10.0
	maxFloodRefusals  = 20
	socketOutbox      = 64
	socketWriteWait   = 5 * time.Second
	maxRefLen         = 64
	closeReasonLeave  = "server shutting down"
	closeReasonSlow   = "too slow to keep up"
	closeReasonFlood  = "too many messages"
	closeReasonBinary = "binary frames are not supported"
	// defaultSocketIdle is how long a socket may send nothing before it
	// is pinged (-socket-idle-timeout); it is closed unless the pong comes
	// back within the same time (at most socketWriteWait). A client that
	// stops half-way through a frame cannot answer, and is closed.
	defaultSocketIdle = 60 * time.Second
)

// parseChannel accepts "video:{id}" and returns the video id.
func parseChannel(ch string) (int64, bool) {
	rest, ok := strings.CutPrefix(ch, "video:")
	if !ok {
		return 0, false
	}
	return parseID(rest)
}

func (a *App) socket(w http.ResponseWriter, r *http.Request) {
	channel := r.URL.Query().Get("channel")
	videoID, ok := parseChannel(channel)
	if !ok {
		a.refuse(w, r, http.StatusBadRequest, "unknown_channel",
			`channel must be "video:{video_id}" with a positive integer id`)
		return
	}
	// Counted before the upgrade, so that shutdown waits for a socket
	// accepted while it runs.
	a.sockets.Add(1)
	defer a.sockets.Done()
	// One name per video ("video:01" and "video:1" are the same channel).
	channel = videoChannel(videoID)
	sub := newSubscriber(socketOutbox)
	if !a.hub.Subscribe(channel, sub) {
		a.refuse(w, r, http.StatusServiceUnavailable, "shutting_down", "the server is shutting down")
		return
	}
	defer a.hub.Unsubscribe(channel, sub)
	raw, err := websocket.Accept(w, r, nil)
	if err != nil {
		a.rejected(r.Context(), "ws", "bad_upgrade", err.Error())
		return // Accept has written the HTTP error.
	}
	raw.SetReadLimit(maxMessageBytes)
	var conn wsConn = raw
	if a.wrap != nil {
		conn = a.wrap(raw, channel)
	}
	defer conn.CloseNow()

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	a.log.InfoContext(ctx, "socket joined", "channel", channel, "video_id", videoID)

	var lastRead atomic.Int64
	lastRead.Store(time.Now().UnixNano())
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		a.socketWriter(ctx, conn, sub)
	}()
	keepaliveDone := make(chan struct{})
	go func() {
		defer close(keepaliveDone)
		a.socketKeepalive(ctx, conn, &lastRead)
	}()
	a.socketReader(ctx, conn, sub, videoID, &lastRead)
	cancel()
	<-writerDone
	<-keepaliveDone
	a.log.InfoContext(r.Context(), "socket left", "channel", channel, "video_id", videoID)
}

// socketWriter sends broadcasts until the socket ends or the hub stops it.
func (a *App) socketWriter(ctx context.Context, conn wsConn, sub *subscriber) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-sub.done:
			code, reason := websocket.StatusGoingAway, closeReasonLeave
			if sub.slow.Load() {
				code, reason = websocket.StatusPolicyViolation, closeReasonSlow
			}
			_ = conn.Close(code, reason)
			return
		case msg := <-sub.out:
			wctx, cancel := context.WithTimeout(ctx, socketWriteWait)
			err := conn.Write(wctx, websocket.MessageText, msg)
			cancel()
			if err != nil {
				return
			}
		}
	}
}

// socketKeepalive pings a socket that has sent nothing for a.idle, and
// closes it when the pong does not come back in time: a peer that went
// away without a close, or stopped half-way through a frame, cannot hold
// its goroutines and its place in the gauge for ever.
func (a *App) socketKeepalive(ctx context.Context, conn wsConn, lastRead *atomic.Int64) {
	idle := a.idle
	if idle <= 0 {
		idle = defaultSocketIdle
	}
	timer := time.NewTimer(idle)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		if quiet := time.Since(time.Unix(0, lastRead.Load())); quiet < idle {
			timer.Reset(idle - quiet)
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, min(idle, socketWriteWait))
		err := conn.Ping(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			a.sink.Increment("sockets.idle_closed", 1, metricsink.KV("region", a.region))
			a.log.InfoContext(ctx, "socket closed: idle and no answer to a ping", "idle", idle.String())
			_ = conn.CloseNow()
			return
		}
		lastRead.Store(time.Now().UnixNano()) // the pong is a sign of life
		timer.Reset(idle)
	}
}

// socketReader handles client messages until the connection ends.
func (a *App) socketReader(ctx context.Context, conn wsConn, sub *subscriber, videoID int64, lastRead *atomic.Int64) {
	tokens, last := socketBurst, time.Now()
	refusals := 0
	for {
		typ, data, err := conn.Read(ctx)
		if err != nil {
			if errors.Is(err, websocket.ErrMessageTooBig) {
				a.rejected(ctx, "ws", "message_too_large",
					fmt.Sprintf("a message exceeded the limit of %d bytes", maxMessageBytes))
			}
			return
		}
		now := time.Now()
		lastRead.Store(now.UnixNano())
		tokens = min(socketBurst, tokens+now.Sub(last).Seconds()*socketRate)
		last = now
		if tokens < 1 {
			refusals++
			// The refusal answers the message it refuses, as every error does.
			var ref struct {
				Ref string `json:"ref"`
			}
			if typ == websocket.MessageText {
				_ = json.Unmarshal(data, &ref)
			}
			a.socketError(ctx, conn, truncateRef(ref.Ref), "rate_limited", "too many messages; slow down")
			if refusals >= maxFloodRefusals {
				_ = conn.Close(websocket.StatusPolicyViolation, closeReasonFlood)
				return
			}
			continue
		}
		tokens--
		if typ != websocket.MessageText {
			a.socketError(ctx, conn, "", "binary_frame", closeReasonBinary)
			continue
		}
		var in inbound
		if err := json.Unmarshal(data, &in); err != nil {
			a.socketError(ctx, conn, "", "malformed_json", "malformed JSON: "+err.Error())
			continue
		}
		in.Ref = truncateRef(in.Ref)
		if !validText(data) {
			a.socketError(ctx, conn, in.Ref, "invalid_utf8", invalidUTF8Message)
			continue
		}
		switch in.Event {
		case "comment.create":
			var req newCommentRequest
			if err := json.Unmarshal(in.Payload, &req); err != nil || in.Payload == nil {
				a.socketError(ctx, conn, in.Ref, "malformed_json", "payload must be an object with user_id and body")
				continue
			}
			if reason, msg := req.validate(); reason != "" {
				a.socketError(ctx, conn, in.Ref, reason, msg)
				continue
			}
			// Each message is a trace of its own, linked to the request
			// that opened the socket: the socket outlives that request,
			// whose span would otherwise gather every message's spans.
			mctx, mspan := tracer.Start(ctx, "ws comment.create", trace.WithNewRoot(),
				trace.WithSpanKind(trace.SpanKindConsumer), trace.WithLinks(trace.LinkFromContext(ctx)),
				trace.WithAttributes(attribute.String("channel", "video")))
			c, err := a.createComment(mctx, videoID, *req.UserID, *req.Body, "ws")
			if err != nil {
				a.socketReply(mctx, conn, event{Event: "error", Ref: in.Ref,
					Payload: map[string]string{"reason": "store_failed", "message": "the comment could not be stored"}})
				mspan.End()
				continue
			}
			a.socketReply(mctx, conn, event{Event: "ack", Ref: in.Ref, Payload: c})
			mspan.End()
		default:
			a.socketError(ctx, conn, in.Ref, "unknown_event", `unknown event; accepted: "comment.create"`)
		}
	}
}

// truncateRef keeps at most maxRefLen bytes of a client's ref, cut on a
// rune boundary.
func truncateRef(ref string) string {
	return budget.Cut(ref, maxRefLen)
}

func (a *App) socketError(ctx context.Context, conn wsConn, ref, reason, msg string) {
	a.rejected(ctx, "ws", reason, msg)
	a.socketReply(ctx, conn, event{Event: "error", Ref: ref,
		Payload: map[string]string{"reason": reason, "message": msg}})
}

func (a *App) socketReply(ctx context.Context, conn wsConn, e event) {
	msg, err := json.Marshal(e)
	if err != nil {
		return
	}
	wctx, cancel := context.WithTimeout(ctx, socketWriteWait)
	defer cancel()
	_ = conn.Write(wctx, websocket.MessageText, msg)
}
