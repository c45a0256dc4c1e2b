// Package profiling serves the Go runtime's profiles (net/http/pprof) on a
// mux of the program's choosing, behind a token, and never on
// http.DefaultServeMux.
//
// Importing net/http/pprof registers its handlers on http.DefaultServeMux
// in the package's init; Go 1.26 still does (GET /debug/pprof/ and its
// cmdline, profile, symbol and trace pages), and no API takes a route off
// a ServeMux. This package imports net/http/pprof, so a program that
// imports this package has those routes on http.DefaultServeMux; they are
// reachable only if something serves http.DefaultServeMux (an
// http.ListenAndServe(addr, nil), an http.Server with a nil Handler).
// The kit never does: its listener has a mux of its own. A program that
// serves http.DefaultServeMux on a public port must not import this
// package (nor net/http/pprof) at all, or must serve its own mux there
// instead. Package operate, and the kit's other library packages, do not
// import net/http/pprof: only a program that imports this package, and so
// asks for profiles, links it.
//
// From a shell, with the kit's listener on :9568:
//
//	curl -H "Authorization: Bearer $TOKEN" -o cpu.pprof 'localhost:9568/debug/pprof/profile?seconds=10'
//	curl -H "Authorization: Bearer $TOKEN" -o heap.pprof localhost:9568/debug/pprof/heap
//	curl -H "Authorization: Bearer $TOKEN" 'localhost:9568/debug/pprof/goroutine?debug=2'
//	go tool pprof -http=: cpu.pprof
package profiling

import (
	"net/http"
	"net/http/pprof"

	"github.com/realtimeserver/observability/internal/authtoken"
)

// Prefix is the path under which Mount serves the profiles. It is fixed:
// pprof.Index finds a named profile by this prefix.
const Prefix = "/debug/pprof/"

// Options configure Mount. A nil or zero Options consists entirely of
// default values; Mount never writes to it.
type Options struct {
	// Token, when not empty, is required on every request as
	// "Authorization: Bearer <token>": profiles reveal the command line,
	// the program's symbols and what its memory holds. It is compared in
	// constant time and never logged. Default: none.
	Token string
	// Cookie, when not empty, is the name of a cookie that may carry the
	// Token instead (livedash.CookieName, for links from the dashboard's
	// pages; the cookie must then be sent for Prefix, that is set for
	// a path that covers it). Default: none.
	Cookie string
}

// Mount registers net/http/pprof's handlers on mux under Prefix:
// pprof.Index at /debug/pprof/ (which serves every named profile of
// runtime/pprof: allocs, block, goroutine, heap, mutex, threadcreate, at
// /debug/pprof/<name>), pprof.Cmdline, pprof.Profile (the CPU profile,
// ?seconds=, 30 by default), pprof.Symbol and pprof.Trace, all behind
// opts.Token. Symbol answers GET and POST (go tool pprof posts to it), the
// others GET (and HEAD). Like mux.Handle, Mount panics if one of these
// patterns is registered already. It never touches
// http.DefaultServeMux.
//
// pprof.Profile and pprof.Trace extend the connection's write deadline by
// the duration asked for, so an http.Server's WriteTimeout does not cut a
// long profile short.
func Mount(mux *http.ServeMux, opts *Options) {
	var o Options
	if opts != nil {
		o = *opts
	}
	tok := authtoken.New(o.Token)
	guard := func(f http.HandlerFunc) http.Handler {
		if !tok.Required() {
			return f
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !tok.Request(r, o.Cookie) {
				authtoken.Refuse(w, "profiling", "unauthorized: profiles need the token, as Authorization: Bearer <token>")
				return
			}
			f(w, r)
		})
	}
	mux.Handle("GET "+Prefix, guard(pprof.Index))
	mux.Handle("GET "+Prefix+"cmdline", guard(pprof.Cmdline))
	mux.Handle("GET "+Prefix+"profile", guard(pprof.Profile))
	mux.Handle("GET "+Prefix+"symbol", guard(pprof.Symbol))
	mux.Handle("POST "+Prefix+"symbol", guard(pprof.Symbol))
	mux.Handle("GET "+Prefix+"trace", guard(pprof.Trace))
}
