package operate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/realtimeserver/observability/handler"
	"github.com/realtimeserver/observability/internal/authtoken"
)

// maxLevelBody bounds the body of a PUT to a Level.
const maxLevelBody = 1 << 10

// LevelOptions configure a Level. A nil or zero LevelOptions consists
// entirely of default values; NewLevel copies what it needs and never
// writes to it.
type LevelOptions struct {
	// Logger receives one WARN record for every change of the level,
	// the reverts included. Default: slog.Default() at the time of the
	// change.
	Logger *slog.Logger
	// Token, when not empty, is required as "Authorization: Bearer
	// <token>" to change the level, and to read it unless PublicRead.
	// It is compared in constant time and never logged. Default: none,
	// and anyone who reaches the handler may change the level.
	Token string
	// PublicRead lets a GET through without the Token. Default: false,
	// since the level tells how the service is configured.
	PublicRead bool
	// Cookie, when not empty, is the name of a cookie that may carry the
	// Token instead of the Authorization header: livedash.CookieName when
	// the handler is mounted under the dashboard's path, so that the
	// dashboard's pages can read and change the level. Default: none.
	Cookie string
}

// Level is an http.Handler that reads and changes a *slog.LevelVar while
// the program runs:
//
//   - GET (and HEAD) answers the level: {"level":"info"} when the request
//     accepts application/json, else "info" and a line feed; while a
//     temporary level is in force, also when and to what it reverts
//     ("revert_to", "revert_at" in JSON, a second line in text).
//   - PUT sets it, from ?level= or from the body: the level word alone,
//     {"level":"debug","for":"2s"} with Content-Type application/json, or
//     a form (level=debug&for=2s). The words are those of
//     handler.ParseLevel: debug, info, warn (or warning), error, in any
//     letter case. With for=<duration> (time.ParseDuration, above zero)
//     the level reverts by itself once the duration has passed. It
//     answers as GET does, with the new state.
//
// A temporary change reverts to the level that was in force before the
// first of a run of temporary changes: PUT debug for=1m, then PUT warn
// for=1m, reverts to what it was before debug. Any PUT cancels the revert
// pending from an earlier one; a PUT without for= makes the level stay.
// Setting the LevelVar directly does not cancel a pending revert.
//
// Every change, and every revert, is logged at WARN through
// LevelOptions.Logger with the keys "old" and "new" (the level words),
// "for" (the duration, on a temporary change), "revert_to" (the level the
// change reverts to, on a temporary change) and "remote" (the request's
// RemoteAddr, that is the peer's address, not X-Forwarded-For). The log
// record is written after the change, without any lock held.
//
// A request refused for want of the Token gets 401 and changes nothing; a
// malformed one gets 400 and changes nothing. Level is safe for
// concurrent use. It owns no goroutine: a pending revert is a runtime
// timer, and its callback runs only when it fires.
type Level struct {
	v          *slog.LevelVar
	logger     *slog.Logger
	token      authtoken.Token
	publicRead bool
	cookie     string

	mu       sync.Mutex
	gen      uint64      // counts PUTs: a revert from an older one is stale
	timer    *time.Timer // the pending revert, or nil
	base     slog.Level  // what a pending revert restores
	revertAt time.Time
}

// NewLevel returns the Level handler over v. It returns an error if v is
// nil.
func NewLevel(v *slog.LevelVar, opts *LevelOptions) (*Level, error) {
	if v == nil {
		return nil, errors.New("operate: NewLevel: nil *slog.LevelVar")
	}
	var o LevelOptions
	if opts != nil {
		o = *opts
	}
	return &Level{v: v, logger: o.Logger, token: authtoken.New(o.Token),
		publicRead: o.PublicRead, cookie: o.Cookie}, nil
}

// levelState is the answer to GET and PUT.
type levelState struct {
	Level    string     `json:"level"`
	RevertTo string     `json:"revert_to,omitempty"`
	RevertAt *time.Time `json:"revert_at,omitempty"`
}

// ServeHTTP answers GET, HEAD and PUT as the type's comment says, and 405
// to any other method.
func (l *Level) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if !l.publicRead && !l.authorized(w, r) {
			return
		}
		l.answer(w, r)
	case http.MethodPut:
		if !l.authorized(w, r) {
			return
		}
		level, dur, err := parseLevelRequest(w, r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		l.set(level, dur, r.RemoteAddr)
		l.answer(w, r)
	default:
		w.Header().Set("Allow", "GET, HEAD, PUT")
		http.Error(w, "method not allowed: GET reads the level, PUT sets it", http.StatusMethodNotAllowed)
	}
}

func (l *Level) authorized(w http.ResponseWriter, r *http.Request) bool {
	if l.token.Request(r, l.cookie) {
		return true
	}
	authtoken.Refuse(w, "log level", "unauthorized: the log level needs the token, as Authorization: Bearer <token>")
	return false
}

// State returns the level in force and, while a temporary level is in
// force, the level it reverts to and when (revertAt is zero otherwise).
func (l *Level) State() (level, revertTo slog.Level, revertAt time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.timer == nil {
		return l.v.Level(), 0, time.Time{}
	}
	return l.v.Level(), l.base, l.revertAt
}

func (l *Level) answer(w http.ResponseWriter, r *http.Request) {
	level, to, at := l.State()
	st := levelState{Level: levelWord(level)}
	if !at.IsZero() {
		at = at.UTC().Truncate(time.Millisecond)
		st.RevertTo, st.RevertAt = levelWord(to), &at
	}
	if acceptsJSON(r) {
		w.Header().Set("Content-Type", "application/json")
		b, _ := json.Marshal(st) // strings and a time: cannot fail
		w.Write(append(b, '\n'))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	text := st.Level + "\n"
	if st.RevertAt != nil {
		text += fmt.Sprintf("reverts to %s at %s (in %s)\n", st.RevertTo, st.RevertAt.Format(time.RFC3339),
			time.Until(*st.RevertAt).Round(time.Second))
	}
	io.WriteString(w, text)
}

// Set makes level the level in force, for d when d is above zero (then it
// reverts by itself, as a PUT with for= does) or until changed when d is
// zero, and logs the change at WARN with remote as the caller's address.
// A negative d is treated as zero.
func (l *Level) Set(level slog.Level, d time.Duration, remote string) {
	l.set(level, max(d, 0), remote)
}

func (l *Level) set(level slog.Level, d time.Duration, remote string) {
	l.mu.Lock()
	old := l.v.Level()
	l.gen++
	gen := l.gen
	pending := l.timer != nil
	if pending {
		l.timer.Stop() // a stale callback that runs anyway sees gen changed
		l.timer = nil
	}
	if d > 0 {
		if !pending {
			l.base = old
		}
		l.revertAt = time.Now().Add(d)
		l.timer = time.AfterFunc(d, func() { l.revert(gen, d, remote) })
	}
	base := l.base
	l.v.Set(level)
	l.mu.Unlock()

	attrs := []slog.Attr{slog.String("old", levelWord(old)), slog.String("new", levelWord(level))}
	if d > 0 {
		attrs = append(attrs, slog.Duration("for", d), slog.String("revert_to", levelWord(base)))
	}
	attrs = append(attrs, slog.String("remote", remote))
	l.log("log level changed", attrs)
}

// revert restores the level in force before a temporary change, unless a
// later change came first.
func (l *Level) revert(gen uint64, d time.Duration, remote string) {
	l.mu.Lock()
	if gen != l.gen {
		l.mu.Unlock()
		return
	}
	old, level := l.v.Level(), l.base
	l.timer = nil
	l.v.Set(level)
	l.mu.Unlock()
	l.log("log level reverted", []slog.Attr{slog.String("old", levelWord(old)), slog.String("new", levelWord(level)),
		slog.Duration("for", d), slog.String("remote", remote)})
}

func (l *Level) log(msg string, attrs []slog.Attr) {
	logger := l.logger
	if logger == nil {
		logger = slog.Default()
	}
	logger.LogAttrs(context.Background(), slog.LevelWarn, msg, attrs...)
}

// levelWord is the level as LOG_LEVEL and handler.ParseLevel write it:
// "debug", "info", "warn", "error"; a level between them as slog names it
// ("info+2"), lower-cased.
func levelWord(l slog.Level) string { return strings.ToLower(l.String()) }

// acceptsJSON reports whether the request asks for JSON: an Accept header
// that names application/json (or */json) before any text type.
func acceptsJSON(r *http.Request) bool {
	for part := range strings.SplitSeq(r.Header.Get("Accept"), ",") {
		mt, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		mt = strings.ToLower(strings.TrimSpace(mt))
		switch {
		case mt == "application/json" || strings.HasSuffix(mt, "+json"):
			return true
		case strings.HasPrefix(mt, "text/"):
			return false
		}
	}
	return false
}

// parseLevelRequest reads the level and the duration of a PUT from its
// query (?level=, ?for=) or, when the query has no level, from its body.
func parseLevelRequest(w http.ResponseWriter, r *http.Request) (slog.Level, time.Duration, error) {
	q := r.URL.Query()
	word, dur := q.Get("level"), q.Get("for")
	if !q.Has("level") {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxLevelBody))
		if err != nil {
			return 0, 0, fmt.Errorf("reading the body: %v (at most %d bytes)", err, maxLevelBody)
		}
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		switch mt {
		case "application/json":
			var in struct {
				Level *string `json:"level"`
				For   string  `json:"for"`
			}
			if err := json.Unmarshal(body, &in); err != nil {
				return 0, 0, fmt.Errorf(`the body is not {"level":"<level>","for":"<duration>"}: %v`, err)
			}
			if in.Level == nil {
				return 0, 0, errors.New(`the JSON body has no "level"`)
			}
			word = *in.Level
			if in.For != "" {
				dur = in.For
			}
		case "application/x-www-form-urlencoded":
			r.Body = io.NopCloser(strings.NewReader(string(body)))
			if err := r.ParseForm(); err != nil {
				return 0, 0, fmt.Errorf("the form: %v", err)
			}
			word = r.PostForm.Get("level")
			if f := r.PostForm.Get("for"); f != "" {
				dur = f
			}
		default:
			word = string(body)
		}
	}
	level, err := handler.ParseLevel(word)
	if err != nil {
		return 0, 0, err
	}
	var d time.Duration
	if dur != "" {
		d, err = time.ParseDuration(strings.TrimSpace(dur))
		if err != nil || d <= 0 {
			return 0, 0, fmt.Errorf("for=%q: accepted a duration above zero such as 30s, 5m or 1h", dur)
		}
	}
	return level, d, nil
}
