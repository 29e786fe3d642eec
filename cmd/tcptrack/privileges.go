package main

import (
	"fmt"
	"os/user"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// capNetRaw is CAP_NET_RAW: all a packet socket needs.
const capNetRaw = 13

// dropPrivileges switches the process to the named user, keeping
// CAP_NET_RAW and nothing else, so that the capture can be reopened after
// the interface comes back.
func dropPrivileges(name string) error {
	u, err := user.Lookup(name)
	if err != nil {
		return err
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return fmt.Errorf("uid %q: %w", u.Uid, err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return fmt.Errorf("gid %q: %w", u.Gid, err)
	}
	// Keep the permitted set across setuid; the effective set is restored
	// below.
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("keep capabilities: %w", err)
	}
	if err := syscall.Setgroups(nil); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return fmt.Errorf("setgid: %w", err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return fmt.Errorf("setuid: %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := [2]unix.CapUserData{{Effective: 1 << capNetRaw, Permitted: 1 << capNetRaw}}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("keep CAP_NET_RAW: %w", err)
	}
	return nil
}
