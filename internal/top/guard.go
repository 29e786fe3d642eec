package top

import "sync/atomic"

// active restores the terminal of the view that is running, if any.
var active atomic.Pointer[func()]

// Guard restores the terminal if the goroutine that defers it panics while
// a view runs, then lets the panic go on: a capture goroutine that dies
// must not leave the shell in raw mode on the alternate screen. Defer it
// first in every goroutine that runs beside a view.
func Guard() {
	if r := recover(); r != nil {
		if f := active.Load(); f != nil {
			(*f)()
		}
		panic(r)
	}
}
