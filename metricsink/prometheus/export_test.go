package prometheus

// HintIndex and HintHolds expose the hint table to the tests of
// package prometheus_test.
func HintIndex(name string) int { return hintIndex(name) }

// HintHolds reports whether the slot of name holds name.
func (p *Registry) HintHolds(name string) bool {
	hn := p.hint[hintIndex(name)].Load()
	return hn != nil && hn.name == name
}
