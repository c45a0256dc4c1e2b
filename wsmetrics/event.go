package wsmetrics

// scanEvent returns the raw bytes of the string value of the top-level
// "event" key of the JSON object that data starts with, without the quotes
// and without unescaping, and true. It returns false when data does not
// start with a JSON object, or the object has no such key before the first
// malformed byte, or its value is not a string.
//
// It reads data once, left to right, allocates nothing and stops at the
// key: what follows it is not validated, so a prefix of a long message is
// enough. Nested objects are skipped, so only the top-level key counts.
// The first "event" key wins.
func scanEvent(data []byte) ([]byte, bool) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return nil, false
	}
	i++
	for {
		i = skipSpace(data, i)
		if i >= len(data) || data[i] != '"' {
			return nil, false // '}' of an object without the key, or garbage
		}
		end, ok := skipString(data, i)
		if !ok {
			return nil, false
		}
		key := data[i+1 : end-1]
		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return nil, false
		}
		i = skipSpace(data, i+1)
		if string(key) == "event" {
			if i >= len(data) || data[i] != '"' {
				return nil, false
			}
			end, ok := skipString(data, i)
			if !ok {
				return nil, false
			}
			return data[i+1 : end-1], true
		}
		if i, ok = skipValue(data, i); !ok {
			return nil, false
		}
		i = skipSpace(data, i)
		if i >= len(data) || data[i] != ',' {
			return nil, false
		}
		i++
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(data []byte, i int) int {
	for i < len(data) && isSpace(data[i]) {
		i++
	}
	return i
}

// skipString returns the index just past the string starting at data[i],
// which is '"'.
func skipString(data []byte, i int) (int, bool) {
	for j := i + 1; j < len(data); j++ {
		switch data[j] {
		case '\\':
			j++
		case '"':
			return j + 1, true
		}
	}
	return 0, false
}

// skipValue returns the index just past the JSON value starting at data[i].
// Objects and arrays are skipped by counting brackets outside strings,
// without recursion; scalars run to the next delimiter.
func skipValue(data []byte, i int) (int, bool) {
	if i >= len(data) {
		return 0, false
	}
	switch data[i] {
	case '"':
		return skipString(data, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(data); j++ {
			switch data[j] {
			case '"':
				end, ok := skipString(data, j)
				if !ok {
					return 0, false
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, true
				}
			}
		}
		return 0, false
	}
	j := i
	for j < len(data) {
		c := data[j]
		if c == ',' || c == '}' || c == ']' || isSpace(c) {
			break
		}
		j++
	}
	if j == i {
		return 0, false
	}
	return j, true
}
