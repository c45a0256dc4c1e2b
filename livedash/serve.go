package livedash

import (
	"bytes"
	"embed"
	"encoding/json"
	"html/template"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

//go:embed assets
var assetFS embed.FS

var (
	pageTmpl = template.Must(template.ParseFS(assetFS, "assets/page.html"))
	// assets holds each served asset with its ETag.
	assets = loadAssets()
)

type asset struct {
	body  []byte
	etag  string
	ctype string
}

func loadAssets() map[string]asset {
	m := map[string]asset{}
	_ = fs.WalkDir(assetFS, "assets", func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() || strings.HasSuffix(p, ".html") {
			return err
		}
		b, err := assetFS.ReadFile(p)
		if err != nil {
			return err
		}
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = "application/octet-stream"
		}
		m[strings.TrimPrefix(p, "assets/")] = asset{body: b, etag: `"` + strconv.FormatUint(fnv64(b), 36) + `"`, ctype: ct}
		return nil
	})
	return m
}

func fnv64(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

func serveAsset(w http.ResponseWriter, r *http.Request, name string) {
	a, ok := assets[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("ETag", a.etag)
	h.Set("Cache-Control", "no-cache")
	if r.Header.Get("If-None-Match") == a.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(a.body)))
	_, _ = w.Write(a.body)
}

// pageTitles are the navigation's entries, in order.
var pageTitles = []struct{ ID, Path, Title string }{
	{"home", "/", "Home"},
	{"http", "/http", "HTTP"},
	{"db", "/db", "Database"},
	{"ws", "/ws", "WebSockets"},
	{"metrics", "/metrics", "Metrics"},
	{"logs", "/logs", "Logs"},
	{"runtime", "/runtime", "Runtime"},
}

// csp allows this origin's scripts, styles and connections only.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

func (d *Dashboard) servePage(w http.ResponseWriter, r *http.Request, page string) {
	title := ""
	for _, p := range pageTitles {
		if p.ID == page {
			title = p.Title
		}
	}
	var b bytes.Buffer
	err := pageTmpl.Execute(&b, map[string]any{
		"Base": d.path, "Page": page, "Title": title, "Nav": pageTitles, "Service": d.info.static[0][1],
		"JS": strings.Trim(assets["app.js"].etag, `"`), "CSS": strings.Trim(assets["app.css"].etag, `"`),
	})
	if err != nil {
		http.Error(w, "template: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", csp)
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(b.Bytes())
}

// serveStream sends the page's updates as server-sent events, one a
// second, until the client goes away or the dashboard closes.
func (d *Dashboard) serveStream(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page := q.Get("page")
	known := false
	for _, p := range pageTitles {
		known = known || p.ID == page
	}
	if !known {
		http.Error(w, "page: accepted home, http, db, ws, metrics, logs, runtime", http.StatusBadRequest)
		return
	}
	if d.ctx.Err() != nil {
		http.Error(w, "dashboard closed", http.StatusServiceUnavailable)
		return
	}
	if n := d.viewers.Add(1); n > d.maxView {
		d.viewers.Add(-1)
		w.Header().Set("Retry-After", "5")
		http.Error(w, "too many dashboard pages open", http.StatusServiceUnavailable)
		return
	}
	d.wg.Add(1)
	defer d.wg.Done()
	defer d.viewers.Add(-1)
	if d.ring != nil {
		defer d.ring.st.watch()()
	}

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	v := d.newView(page, q.Get("family"), q.Get("series"))
	tk := time.NewTicker(time.Second)
	defer tk.Stop()
	var buf bytes.Buffer
	send := func(now time.Time) bool {
		buf.Reset()
		buf.WriteString("retry: 2000\ndata: ")
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v.next(now)); err != nil {
			return false
		}
		// Encode ends with a newline; one more ends the event.
		buf.WriteByte('\n')
		// The server's WriteTimeout would end this long response: each
		// write gets its own deadline instead.
		_ = rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := w.Write(buf.Bytes()); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send(time.Now()) {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-d.ctx.Done():
			return
		case now := <-tk.C:
			if !send(now) {
				return
			}
		}
	}
}

// serveLogs answers the Logs page's queries: records kept in the ring
// matching request_id, level (the minimum) and q (a substring of the
// message or of any attribute), newest last, at most limit (default and
// maximum 2000).
func (d *Dashboard) serveLogs(w http.ResponseWriter, r *http.Request) {
	qs := r.URL.Query()
	limit := 2000
	if s := qs.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			http.Error(w, "limit: accepted a number from 1 to 2000", http.StatusBadRequest)
			return
		}
		limit = min(n, limit)
	}
	minLevel := slog.Level(-1 << 20)
	if s := qs.Get("level"); s != "" {
		if err := minLevel.UnmarshalText([]byte(s)); err != nil {
			http.Error(w, "level: accepted debug, info, warn, error", http.StatusBadRequest)
			return
		}
	}
	rid, text := qs.Get("request_id"), qs.Get("q")
	out := []logJSON{}
	if d.ring != nil {
		// Copy under the lock, match outside it.
		es := d.ring.st.entries(0, 0)
		for i := len(es) - 1; i >= 0 && len(out) < limit; i-- {
			e := &es[i]
			if e.level >= minLevel && (rid == "" || e.rid == rid) && (text == "" || e.contains(text)) {
				out = append(out, toJSON(e))
			}
		}
		slices.Reverse(out)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(map[string]any{"records": out})
}

// contains reports whether s occurs in the message or in an attribute's
// key or value, ignoring ASCII case.
func (e *entry) contains(s string) bool {
	if containsFold(e.msg, s) {
		return true
	}
	found := false
	f := func(k, v []byte) { found = found || containsFold(string(k), s) || containsFold(string(v), s) }
	eachKV(e.pre, f)
	eachKV(e.own, f)
	return found
}

func containsFold(hay, needle string) bool {
	if len(needle) > len(hay) {
		return false
	}
	return strings.Contains(strings.ToLower(hay), strings.ToLower(needle))
}
