package tracker

// WithoutShortcut makes t take the whole rulebook for every segment (see
// stepSteady), for the tests of package tracker_test.
func WithoutShortcut(t *Tracker) { t.noShortcut = true }
