package mmapmem

import "golang.org/x/sys/unix"

// mapBytes maps n bytes of zeroed memory, private to the process. Pages
// are taken when first touched; the mapping reserves neither memory nor
// swap up front (MAP_NORESERVE), as an array is reserved at its owner's bound,
// which it seldom reaches.
func mapBytes(n int) ([]byte, error) {
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return nil, err
	}
	if n > hugeFrom {
		// Advice only: where transparent huge pages are off or absent,
		// the kernel says so and 4 KiB pages serve as well.
		_ = unix.Madvise(b[hugeFrom:], unix.MADV_HUGEPAGE)
	}
	return b, nil
}

func unmapBytes(b []byte) { _ = unix.Munmap(b) }
