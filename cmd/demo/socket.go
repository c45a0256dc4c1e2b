package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// wsConn is the part of *websocket.Conn the socket handler uses; the
// instrumented connection has the same methods.
type wsConn interface {
	Read(ctx context.Context) (websocket.MessageType, []byte, error)
	Write(ctx context.Context, typ websocket.MessageType, p []byte) error
	Close(code websocket.StatusCode, reason string) error
	CloseNow() error
}

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

	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		a.socketWriter(ctx, conn, sub)
	}()
	a.socketReader(ctx, conn, sub, videoID)
	cancel()
	<-writerDone
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

// socketReader handles client messages until the connection ends.
func (a *App) socketReader(ctx context.Context, conn wsConn, sub *subscriber, videoID int64) {
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
		tokens = min(socketBurst, tokens+now.Sub(last).Seconds()*socketRate)
		last = now
		if tokens < 1 {
			refusals++
			a.socketError(ctx, conn, "", "rate_limited", "too many messages; slow down")
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
		if len(in.Ref) > maxRefLen {
			in.Ref = in.Ref[:maxRefLen]
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
			c, err := a.createComment(ctx, videoID, *req.UserID, *req.Body, "ws")
			if err != nil {
				a.socketReply(ctx, conn, event{Event: "error", Ref: in.Ref,
					Payload: map[string]string{"reason": "store_failed", "message": "the comment could not be stored"}})
				continue
			}
			a.socketReply(ctx, conn, event{Event: "ack", Ref: in.Ref, Payload: c})
		default:
			a.socketError(ctx, conn, in.Ref, "unknown_event", `unknown event; accepted: "comment.create"`)
		}
	}
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
