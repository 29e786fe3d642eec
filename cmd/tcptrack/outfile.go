package main

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// createOutput opens a file tcptrack writes (--transitions): created mode
// 0600, since it holds every connection's addresses and sequence numbers;
// truncated at start as tcpdump -w does, appended to when reopened after
// SIGHUP (logrotate has moved the old one away, or copied and truncated it).
// As root it never follows a symbolic link: a link planted in a directory
// others can write to would otherwise make root overwrite its target.
func createOutput(path string, reopen bool) (*os.File, error) {
	flags := os.O_WRONLY | os.O_CREATE | syscall.O_CLOEXEC
	if reopen {
		flags |= os.O_APPEND
	} else {
		flags |= os.O_TRUNC
	}
	if os.Geteuid() == 0 {
		flags |= syscall.O_NOFOLLOW
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("%s is a symbolic link, which tcptrack does not write through as root: give the path of its target", path)
	}
	return f, err
}
