package mmapmem

import (
	"runtime"
	"unsafe"
)

// Mappings are the arrays handed out by Array, until Free or Release gives
// them back. The zero value is ready to use. Not safe for concurrent use.
type Mappings struct{ regions [][]byte }

// hugeFrom is how far into an array huge pages start: below it, the 4 KiB
// pages of a small table (a test's, a quiet link's), not 2 MiB ones.
const hugeFrom = 4 << 20

// Array returns n zeroed Ts, kept in m. T must hold no pointers: the
// garbage collector does not see mapped memory. Where memory cannot be
// mapped, the array comes from the Go heap, and Free and Release leave it
// to the garbage collector.
func Array[T any](m *Mappings, n int) []T {
	var zero T
	size := n * int(unsafe.Sizeof(zero))
	if n == 0 || size/n != int(unsafe.Sizeof(zero)) {
		return make([]T, n) // empty, or too big to map: let make say so
	}
	b, err := mapBytes(size)
	if err != nil {
		// Mappings of dropped owners go back once they are collected,
		// which may be what is missing.
		runtime.GC()
		if b, err = mapBytes(size); err != nil {
			return make([]T, n)
		}
	}
	m.regions = append(m.regions, b)
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), n)
}

// Free gives back the memory of s, an array from Array on m. s must not
// be used afterwards.
func Free[T any](m *Mappings, s []T) {
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

// Release gives back every array of m. None may be used afterwards.
func (m *Mappings) Release() {
	for _, b := range m.regions {
		unmapBytes(b)
	}
	m.regions = nil
}
