// Package pcaptest holds what the tests of several packages do with a
// capture: feed its TCP segments somewhere, as tcptrack -r does, and compare
// socket listings with the kernel's by a key that ss and tcptrack share.
package pcaptest
