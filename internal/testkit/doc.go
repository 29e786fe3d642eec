// Package testkit holds what the tests of several packages share: feeding
// a capture's TCP segments somewhere as tcptrack -r does, comparing socket
// listings with the kernel's by a key that ss and tcptrack share, and a
// buffer a child process writes while the test reads it.
package testkit
