// Package authtoken is the kit's one check of a bearer token, shared by
// every endpoint that changes or reveals something (the dashboard, the log
// level, health details, profiles). A Token keeps only the SHA-256 hash of
// the secret and compares hashes in constant time, so neither the content
// nor the length of the secret leaks through timing; the secret itself is
// never kept, logged or echoed.
package authtoken

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// Token is a secret that requests may have to present. The zero Token
// requires nothing. A Token is a value: copy it freely; its methods are
// safe for concurrent use.
type Token struct {
	sum [sha256.Size]byte
	set bool
}

// New returns the Token for secret; an empty secret gives a Token that
// requires nothing (Required reports false).
func New(secret string) Token {
	if secret == "" {
		return Token{}
	}
	return Token{sum: sha256.Sum256([]byte(secret)), set: true}
}

// Required reports whether the Token was made from a non-empty secret.
func (t Token) Required() bool { return t.set }

// Match reports whether s is the secret, in time that depends on neither.
// It reports false for a Token that requires nothing.
func (t Token) Match(s string) bool {
	h := sha256.Sum256([]byte(s))
	return subtle.ConstantTimeCompare(h[:], t.sum[:]) == 1 && t.set
}

// Request reports whether r may proceed: true when the Token requires
// nothing, when r carries "Authorization: Bearer <secret>" (the scheme in
// any letter case, white space around the secret ignored), or, when
// cookie is not empty, when r has a cookie of that name whose value is the
// secret. Query parameters are never read here: a caller that accepts
// ?token= does so itself, and takes it out of the address.
func (t Token) Request(r *http.Request, cookie string) bool {
	if !t.set {
		return true
	}
	if auth := r.Header.Get("Authorization"); auth != "" {
		if scheme, tok, ok := strings.Cut(auth, " "); ok && strings.EqualFold(scheme, "Bearer") && t.Match(strings.TrimSpace(tok)) {
			return true
		}
	}
	if cookie != "" {
		if c, err := r.Cookie(cookie); err == nil && t.Match(c.Value) {
			return true
		}
	}
	return false
}

// Refuse answers 401 Unauthorized with a Bearer challenge for realm and
// msg as the plain-text body. msg must not contain the secret.
func Refuse(w http.ResponseWriter, realm, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm+`"`)
	http.Error(w, msg, http.StatusUnauthorized)
}
