package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/realtimeserver/observability/enrich"
	"github.com/realtimeserver/observability/metricsink"
)

// Limits on what clients may send.
const (
	maxBodyBytes    = 64 << 10 // a POST body
	maxCommentRunes = 2000     // a comment's text
	maxMessageBytes = 8 << 10  // one WebSocket message
	defaultLimit    = 50
	maxLimit        = 200
)

// App is the realtime comments server: its store, its hub and its telemetry.
type App struct {
	store  *Store
	hub    *Hub
	log    *slog.Logger
	sink   metricsink.Sink
	region string
	// wrap instruments an accepted socket; nil when telemetry is off.
	wrap wrapFunc
	// idle is how long a socket may stay silent before it is pinged.
	idle time.Duration

	sockets sync.WaitGroup
}

// routes returns the application's handler, uninstrumented.
func (a *App) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/videos/{video_id}/comments", a.postComment)
	mux.HandleFunc("GET /api/videos/{video_id}/comments", a.listComments)
	mux.HandleFunc("GET /healthz", a.healthz)
	mux.HandleFunc("GET /socket", a.socket)
	return mux
}

// newCommentRequest is the body of POST /api/videos/{video_id}/comments and
// the payload of a comment.create socket message.
type newCommentRequest struct {
	UserID *int64  `json:"user_id"`
	Body   *string `json:"body"`
}

// validate returns the reason a request is refused, or "".
func (req *newCommentRequest) validate() (reason, msg string) {
	switch {
	case req.UserID == nil:
		return "missing_field", "user_id is required"
	case *req.UserID <= 0:
		return "invalid_field", "user_id must be a positive integer"
	case req.Body == nil || strings.TrimSpace(*req.Body) == "":
		return "missing_field", "body is required and must not be blank"
	case strings.ContainsRune(*req.Body, 0):
		return "invalid_field", "body must not contain NUL characters"
	case utf8.RuneCountInString(*req.Body) > maxCommentRunes:
		return "oversized_field", fmt.Sprintf("body is longer than %d characters", maxCommentRunes)
	}
	return "", ""
}

func (a *App) postComment(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	videoID, ok := parseID(r.PathValue("video_id"))
	if !ok {
		a.refuse(w, r, http.StatusBadRequest, "invalid_video_id", "video_id must be a positive integer")
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			a.refuse(w, r, http.StatusRequestEntityTooLarge, "body_too_large",
				fmt.Sprintf("request body is larger than %d bytes", maxBodyBytes))
			return
		}
		a.refuse(w, r, http.StatusBadRequest, "unreadable_body", "the request body could not be read")
		return
	}
	var req newCommentRequest
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&req); err != nil {
		a.refuse(w, r, http.StatusBadRequest, "malformed_json", "malformed JSON: "+err.Error())
		return
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		a.refuse(w, r, http.StatusBadRequest, "malformed_json", "malformed JSON: data after the object")
		return
	}
	// encoding/json would turn invalid UTF-8 into U+FFFD and store that:
	// refuse it instead.
	if !validText(raw) {
		a.refuse(w, r, http.StatusBadRequest, "invalid_utf8", invalidUTF8Message)
		return
	}
	if reason, msg := req.validate(); reason != "" {
		a.refuse(w, r, http.StatusBadRequest, reason, msg)
		return
	}
	c, err := a.createComment(ctx, videoID, *req.UserID, *req.Body, "http")
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{
			"error": "the comment could not be stored", "request_id": enrich.RequestID(ctx)})
		return
	}
	writeJSON(w, http.StatusCreated, c)
}

func (a *App) listComments(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	videoID, ok := parseID(r.PathValue("video_id"))
	if !ok {
		a.refuse(w, r, http.StatusBadRequest, "invalid_video_id", "video_id must be a positive integer")
		return
	}
	q := r.URL.Query()
	limit := defaultLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			a.refuse(w, r, http.StatusBadRequest, "invalid_query",
				fmt.Sprintf("limit must be an integer from 1 to %d", maxLimit))
			return
		}
		limit = n
	}
	var before int64
	if v := q.Get("before"); v != "" {
		if before, ok = parseID(v); !ok {
			a.refuse(w, r, http.StatusBadRequest, "invalid_query", "before must be a positive comment id")
			return
		}
	}
	// One more than asked for tells whether another page follows.
	comments, err := a.store.List(ctx, videoID, before, limit+1)
	if err != nil {
		a.log.ErrorContext(ctx, "listing comments failed", "video_id", videoID, "error", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{
			"error": "the comments could not be read", "request_id": enrich.RequestID(ctx)})
		return
	}
	page := commentPage{Comments: comments}
	if len(comments) > limit {
		page.Comments = comments[:limit]
		page.NextBefore = comments[limit-1].ID
	}
	writeJSON(w, http.StatusOK, page)
}

// commentPage is the answer to GET /api/videos/{video_id}/comments.
type commentPage struct {
	// Comments are newest first.
	Comments []Comment `json:"comments"`
	// NextBefore is the before= value of the next (older) page; absent on
	// the last page.
	NextBefore int64 `json:"next_before,omitempty"`
}

// invalidUTF8Message is what a client is told when its text is not UTF-8.
const invalidUTF8Message = "the request must be valid UTF-8 (no invalid bytes and no unpaired \\u surrogate escapes)"

// validText reports whether a JSON document's text is valid UTF-8 and its
// \u escapes encode no unpaired surrogate: encoding/json silently turns
// both into U+FFFD. A backslash can only occur inside a JSON string, so the
// scan needs no knowledge of the document's structure; what is not valid
// JSON at all is left for the decoder to report.
func validText(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		i++ // the escaped byte
		if i >= len(b) || b[i] != 'u' {
			continue
		}
		r, ok := hex4(b, i+1)
		if !ok {
			continue
		}
		i += 4 // the last hex digit
		switch {
		case 0xDC00 <= r && r <= 0xDFFF:
			return false // a low surrogate alone
		case 0xD800 <= r && r <= 0xDBFF:
			if i+6 >= len(b) || b[i+1] != '\\' || b[i+2] != 'u' {
				return false
			}
			lo, ok := hex4(b, i+3)
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return false
			}
			i += 6
		}
	}
	return true
}

// hex4 reads four hex digits at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

func (a *App) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := a.store.db.PingContext(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "database unreachable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "sockets": a.hub.Online()})
}

// createComment stores a comment, records the business metrics, logs it and
// broadcasts it to the video's subscribers. It is shared by HTTP and sockets.
func (a *App) createComment(ctx context.Context, videoID, userID int64, body, transport string) (Comment, error) {
	start := time.Now()
	ctx, span := tracer.Start(ctx, "store comment", trace.WithAttributes(
		attribute.Int64("video_id", videoID), attribute.String("transport", transport)))
	defer span.End()
	c := Comment{VideoID: videoID, UserID: userID, Body: body}
	if err := a.store.Create(ctx, &c); err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "storing the comment failed")
		a.sink.Increment("comments.failed", 1, metricsink.KV("region", a.region, "transport", transport))
		a.log.ErrorContext(ctx, "storing a comment failed",
			"user_id", userID, "video_id", videoID, "transport", transport, "error", err)
		return c, err
	}
	// Only low-cardinality values are tags; the ids go to the log.
	a.sink.Increment("comments.created", 1, metricsink.KV("region", a.region, "channel", "video", "transport", transport))
	a.sink.Duration("comment.creation.duration", time.Since(start), metricsink.KV("region", a.region, "transport", transport))
	a.sink.Histogram("comment.body.bytes", float64(len(body)), metricsink.KV("region", a.region, "transport", transport))
	a.log.InfoContext(ctx, "comment created",
		"user_id", userID, "comment_id", c.ID, "video_id", videoID, "transport", transport)

	if msg, err := json.Marshal(event{Event: "comment.created", Payload: c}); err == nil {
		_, bspan := tracer.Start(ctx, "broadcast", trace.WithAttributes(attribute.String("channel", "video")))
		a.hub.Broadcast(videoChannel(videoID), msg)
		bspan.End()
	}
	return c, nil
}

// refuse answers a bad request with status and a JSON error, counts it by
// reason and logs it.
func (a *App) refuse(w http.ResponseWriter, r *http.Request, status int, reason, msg string) {
	a.rejected(r.Context(), "http", reason, msg)
	writeJSON(w, status, map[string]string{
		"error": msg, "reason": reason, "request_id": enrich.RequestID(r.Context())})
}

// rejected counts and logs one refused input.
func (a *App) rejected(ctx context.Context, transport, reason, msg string) {
	a.sink.Increment("requests.rejected", 1, metricsink.KV("transport", transport, "reason", reason))
	a.log.InfoContext(ctx, "input rejected", "transport", transport, "reason", reason, "detail", msg)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func parseID(s string) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0
}

func videoChannel(id int64) string { return "video:" + strconv.FormatInt(id, 10) }
