package tracker

import (
	"runtime"
	"unsafe"
)

// The flow table's arrays (flows, timers, IPv6 addresses, the index) live
// in memory mapped from the system rather than in the Go heap, where that
// is possible (see mapBytes):
//
//   - An array is reserved at the table's bound up front and costs memory
//     only for the pages touched: the table grows without copying or
//     chunks, and a table that stays small stays small.
//   - Past its first few megabytes an array asks for transparent huge
//     pages. A SYN flood touches a fresh flow record with nearly every
//     packet; with 4 KiB pages a fifth of its time went to page faults.
//   - The garbage collector neither scans the arrays (they hold no
//     pointers) nor has to run to give back an index the table outgrew.
//
// The mappings go back to the system when the Tracker is collected. Every
// exported method that reaches the table keeps the Tracker alive until it
// returns (runtime.KeepAlive), as no pointer into mapped memory keeps
// anything alive.
type mappings struct{ regions [][]byte }

// hugeFrom is how far into an array huge pages start: below it, the 4 KiB
// pages of a small table (a test's, a quiet link's), not 2 MiB ones.
const hugeFrom = 4 << 20

// newArray returns n zeroed Ts. T must hold no pointers: the garbage
// collector does not see mapped memory.
func newArray[T any](m *mappings, n int) []T {
	var zero T
	size := n * int(unsafe.Sizeof(zero))
	if n == 0 || size/n != int(unsafe.Sizeof(zero)) {
		return make([]T, n) // empty, or too big to map: let make say so
	}
	b, err := mapBytes(size)
	if err != nil {
		// Mappings of dropped Trackers go back once they are collected,
		// which may be what is missing.
		runtime.GC()
		if b, err = mapBytes(size); err != nil {
			return make([]T, n)
		}
	}
	m.regions = append(m.regions, b)
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), n)
}

// freeArray gives back the memory of s, an array from newArray.
func freeArray[T any](m *mappings, s []T) {
	p := unsafe.Pointer(unsafe.SliceData(s))
	for i, b := range m.regions {
		if unsafe.Pointer(unsafe.SliceData(b)) == p {
			unmapBytes(b)
			m.regions = append(m.regions[:i], m.regions[i+1:]...)
			return
		}
	}
	// Not mapped: the garbage collector's.
}

// release gives back every mapping.
func (m *mappings) release() {
	for _, b := range m.regions {
		unmapBytes(b)
	}
	m.regions = nil
}
