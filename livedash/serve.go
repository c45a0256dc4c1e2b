package livedash

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/realtimeserver/observability/drop"
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
var pageTitles = []pageTitle{
	{"home", "/", "Home"},
	{"http", "/http", "HTTP"},
	{"db", "/db", "Database"},
	{"ws", "/ws", "WebSockets"},
	{"metrics", "/metrics", "Metrics"},
	{"logs", "/logs", "Logs"},
	{"traces", "/traces", "Traces"},
	{"runtime", "/runtime", "Runtime"},
}

type pageTitle struct{ ID, Path, Title string }

// nav returns the Dashboard's pages: every one but Traces without
// Options.Spans or Options.TracesOff.
func (d *Dashboard) nav() []pageTitle {
	out := make([]pageTitle, 0, len(pageTitles))
	for _, p := range pageTitles {
		if p.ID != "traces" || d.spans != nil || d.tracesOff != "" {
			out = append(out, p)
		}
	}
	return out
}

// tracesOffText is what the Traces page says without Spans.
func (d *Dashboard) tracesOffText() string {
	if d.spans != nil {
		return ""
	}
	return d.tracesOff
}

// pageAt returns the id of the page at path (after Path), if it is one of
// the Dashboard's.
func (d *Dashboard) pageAt(path string) (string, bool) {
	for _, p := range d.nav() {
		if p.Path == path {
			return p.ID, true
		}
	}
	return "", false
}

// csp allows this origin's scripts, styles and connections only.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

func (d *Dashboard) servePage(w http.ResponseWriter, r *http.Request, page string) {
	title := ""
	nav := d.nav()
	for _, p := range nav {
		if p.ID == page {
			title = p.Title
		}
	}
	var b bytes.Buffer
	err := pageTmpl.Execute(&b, map[string]any{
		"Base": d.path, "Page": page, "Title": title, "Nav": nav, "Service": d.info.static[0][1], "Traces": d.spans != nil,
		"TracesOff": d.tracesOffText(), "Level": d.level != nil, "Profiles": page == "runtime" && d.profiles != nil && d.profiles(),
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
// second, until the client goes away, the dashboard closes, an update
// cannot be written within its deadline (the viewer stopped reading), or
// the connection has lasted StreamLifetime. Then it sends a "renew" event
// and ends the connection: the page's EventSource reconnects by itself
// with the last event's id (Last-Event-ID), and the next connection
// carries on from there. So a viewer's place among Options.MaxViewers is
// a lease that a reading page renews and a stalled client loses, however
// much the socket buffers between them could still absorb.
func (d *Dashboard) serveStream(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page := q.Get("page")
	known := false
	var ids []string
	for _, p := range d.nav() {
		known = known || p.ID == page
		ids = append(ids, p.ID)
	}
	if !known {
		http.Error(w, "page: accepted "+strings.Join(ids, ", "), http.StatusBadRequest)
		return
	}
	if !d.join() {
		d.refuse(w, drop.Closed, 0, "dashboard closed")
		return
	}
	defer d.wg.Done()
	if !d.viewers.enter() {
		d.refuse(w, drop.QueueFull, 5, "too many dashboard pages open")
		return
	}
	defer d.viewers.leave()
	d.streams.Add(1)
	if d.ring != nil {
		defer d.ring.st.watch()()
	}
	if d.spans != nil {
		defer d.spans.watch()()
	}

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	if r.ProtoMajor == 1 {
		// The connection ends with the stream, so that a client that
		// stopped reading keeps nothing open here, not even an idle
		// connection. (An HTTP/2 stream ends alone.)
		h.Set("Connection", "close")
	}
	now := time.Now()
	end := now.Add(d.streamLife)
	v := d.newView(page, q.Get("family"), q.Get("series"))
	if cur, ok := d.lastEventCursor(r); ok {
		v.resume(cur)
	}
	// write writes b and flushes it within the write deadline, and no
	// later than a second past the end of the lease.
	write := func(b []byte) bool {
		dl := time.Now().Add(writeTimeout)
		if last := end.Add(time.Second); dl.After(last) {
			dl = last
		}
		_ = rc.SetWriteDeadline(dl)
		_, err := w.Write(b)
		if err == nil {
			err = rc.Flush()
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			d.dropped.Add(drop.Timeout, 1)
		}
		return err == nil
	}
	send := func(now time.Time) bool {
		t := v.next(now)
		buf := bufPool.Get().(*bytes.Buffer)
		defer putBuf(buf)
		buf.Reset()
		buf.WriteString("retry: 2000\nid: ")
		buf.WriteString(d.nonce)
		buf.WriteByte('.')
		buf.WriteString(strconv.FormatUint(v.cursor(), 10))
		buf.WriteString("\ndata: ")
		enc := json.NewEncoder(buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(t); err != nil {
			return false
		}
		// Encode ends with a newline; one more ends the event.
		buf.WriteByte('\n')
		return write(buf.Bytes())
	}
	if !send(now) {
		return
	}
	tk := time.NewTicker(time.Second)
	defer tk.Stop()
	lease := time.NewTimer(time.Until(end))
	defer lease.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-d.ctx.Done():
			return
		case <-lease.C:
			// The page reconnects without showing a break; the deadline
			// also bounds the end of the response, written after return.
			_ = rc.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := io.WriteString(w, "event: renew\ndata: {}\n\n"); err == nil {
				_ = rc.Flush()
			}
			return
		case now := <-tk.C:
			if !send(now) {
				return
			}
		}
	}
}

// lastEventCursor returns the cursor in the request's Last-Event-ID, when
// it names an update this Dashboard sent (see serveStream's id lines).
func (d *Dashboard) lastEventCursor(r *http.Request) (uint64, bool) {
	nonce, cur, ok := strings.Cut(r.Header.Get("Last-Event-ID"), ".")
	if !ok || nonce != d.nonce {
		return 0, false
	}
	n, err := strconv.ParseUint(cur, 10, 64)
	return n, err == nil
}

// bufPool holds the buffers live updates are encoded in.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func putBuf(b *bytes.Buffer) {
	if b.Cap() <= 1<<20 {
		bufPool.Put(b)
	}
}
