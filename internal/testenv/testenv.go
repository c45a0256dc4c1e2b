// Package testenv lets integration tests find the real servers and tools
// they run against (promtool, prometheus, victoria-metrics, PostgreSQL) and
// decide what to do when one is missing: skip with a clear message on a
// developer's machine, fail when OBSERVABILITY_REQUIRE_INTEGRATION is set,
// as .ci/run sets it.
package testenv

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
)

// RequireVar is the environment variable that turns a missing integration
// dependency from a skip into a failure.
const RequireVar = "OBSERVABILITY_REQUIRE_INTEGRATION"

// PostgresVar names a PostgreSQL URL (postgres://…) for integration tests.
const PostgresVar = "OBSERVABILITY_TEST_POSTGRES_URL"

// Required reports whether missing integration dependencies must fail tests.
func Required() bool {
	ok, _ := strconv.ParseBool(os.Getenv(RequireVar))
	return ok
}

// Missing skips t, or fails it when Required, saying what is missing and how
// to provide it.
func Missing(t testing.TB, what, hint string) {
	t.Helper()
	if Required() {
		t.Fatalf("%s is missing and %s is set: %s", what, RequireVar, hint)
	}
	t.Skipf("skipping: %s is missing (%s); set %s=1 to make this a failure", what, hint, RequireVar)
}

// Binary returns the path of the named program on PATH, or calls Missing.
func Binary(t testing.TB, name, hint string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, name, hint)
	}
	return p
}

// PostgresURL returns the PostgreSQL URL from PostgresVar, or calls Missing.
func PostgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(PostgresVar)
	if u == "" {
		Missing(t, "PostgreSQL", PostgresVar+" names no database; .ci/run starts one (apt-get install postgresql)")
	}
	return u
}

// Buffer is a bytes.Buffer that a logger and a test may use at once.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Len returns the number of bytes written so far.
func (b *Buffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Len()
}

// FreePort returns a loopback TCP port that was free a moment ago, for
// programs that take a port number rather than a listener.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
