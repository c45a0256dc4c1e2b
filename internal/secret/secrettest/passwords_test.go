package secrettest

import "testing"

// TestLogLeaksSkipsTheClock: a record's time is the clock's, not the
// password's, even where its digits are a part of one; the same digits in
// a record's message or attributes are a leak.
func TestLogLeaksSkipsTheClock(t *testing.T) {
	const password = "Lima@127.0.0.1:5/Mike9"
	clean := `{"time":"2026-12-07T15:13:27.048269225Z","level":"ERROR","msg":"database unreachable","err":"xxxxx refused"}`
	if leaks, err := LogLeaks(clean, password); err != nil || len(leaks) > 0 {
		t.Errorf("LogLeaks(%s) = %q, %v; want none", clean, leaks, err)
	}
	for _, leaky := range []string{
		`{"time":"2026-12-07T15:13:27Z","level":"ERROR","msg":"dial 127.0.0.1 refused"}`,
		`{"time":"127.0.0.1","msg":"x"}`,
		`{"msg":"x","at":"15:13:27.048"}`,
	} {
		if leaks, err := LogLeaks(leaky, password); err != nil || len(leaks) == 0 {
			t.Errorf("LogLeaks(%s) = %q, %v; want a leak", leaky, leaks, err)
		}
	}
}
