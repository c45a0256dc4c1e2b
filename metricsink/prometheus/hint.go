package prometheus

// The hint table sits in front of the hot map: most calls name a metric
// the registry already knows, and finding its hotName by a few bytes of
// the name and one comparison is cheaper than hashing the whole name
// into a map. Each slot holds the first name created with its index, for
// the registry's life (hotName values are never removed or replaced), so
// the hot path only reads it; names that lose a slot to another are found
// by the map, as every name was before.

// hintSlots is the size of the hint table, a power of two.
const hintSlots = 256

// hintIndex returns the slot of name: its length and three of its bytes,
// mixed. It needs no seed: a name the slot does not hold costs one
// comparison more on its way to the map, so names made to collide slow
// nothing but themselves.
func hintIndex(name string) int {
	n := len(name)
	if n == 0 {
		return 0
	}
	h := uint(n) + uint(name[0])*0x9e + uint(name[n>>1])*0x3b + uint(name[n-1])*0xd5
	return int((h ^ h>>8) & (hintSlots - 1))
}
