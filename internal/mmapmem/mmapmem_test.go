package mmapmem

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"strings"
	"testing"
	"unsafe"
)

// mapped reports whether the process's memory map holds address p.
func mapped(t *testing.T, p unsafe.Pointer) bool {
	t.Helper()
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	addr := uintptr(p)
	for _, l := range strings.Split(string(maps), "\n") {
		var lo, hi uintptr
		if _, err := fmt.Sscanf(l, "%x-%x", &lo, &hi); err == nil && lo <= addr && addr < hi {
			return true
		}
	}
	return false
}

// TestArray checks that arrays come zeroed, of the length asked, apart from
// each other, and writable to their last element, huge pages included.
func TestArray(t *testing.T) {
	var m Mappings
	defer m.Release()
	a := Array[uint64](&m, 10)
	b := Array[[3]uint32](&m, (hugeFrom+1<<20)/12) // past hugeFrom
	if len(a) != 10 || len(b) != (hugeFrom+1<<20)/12 {
		t.Fatalf("lengths %d, %d", len(a), len(b))
	}
	for i := range a {
		if a[i] != 0 {
			t.Fatalf("a[%d] = %d, want 0", i, a[i])
		}
		a[i] = uint64(i) + 1
	}
	for i := range b {
		if b[i] != [3]uint32{} {
			t.Fatalf("b[%d] = %v, want zeros", i, b[i])
		}
		b[i] = [3]uint32{uint32(i), 1, 2}
	}
	for i := range a {
		if a[i] != uint64(i)+1 {
			t.Fatalf("a[%d] = %d after writing b", i, a[i])
		}
	}
	if runtime.GOOS == "linux" && len(m.regions) != 2 {
		t.Fatalf("%d regions mapped, want 2", len(m.regions))
	}
}

// TestFree checks that Free gives back exactly the array it is handed, and
// that Release gives back the rest.
func TestFree(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("memory is mapped on Linux only")
	}
	var m Mappings
	a := Array[uint64](&m, 1<<16)
	b := Array[uint64](&m, 1<<16)
	pa, pb := unsafe.Pointer(&a[0]), unsafe.Pointer(&b[0])
	if !mapped(t, pa) || !mapped(t, pb) {
		t.Fatal("arrays not in /proc/self/maps")
	}
	Free(&m, a)
	if mapped(t, pa) || !mapped(t, pb) {
		t.Fatalf("after Free(a): a mapped %v, b mapped %v; want false, true", mapped(t, pa), mapped(t, pb))
	}
	Free(&m, make([]uint64, 4)) // not mapped: nothing to do
	if len(m.regions) != 1 {
		t.Fatalf("%d regions after Free, want 1", len(m.regions))
	}
	m.Release()
	if mapped(t, pb) || len(m.regions) != 0 {
		t.Fatal("b still mapped after Release")
	}
	m.Release() // twice is harmless
}

// TestArrayUnmappable checks the arrays that are not mapped: an empty one,
// and one whose size overflows, which make refuses as it would anyway.
func TestArrayUnmappable(t *testing.T) {
	var m Mappings
	defer m.Release()
	if a := Array[uint64](&m, 0); len(a) != 0 || len(m.regions) != 0 {
		t.Fatalf("empty array: len %d, %d regions", len(a), len(m.regions))
	}
	defer func() {
		if recover() == nil {
			t.Fatal("an array larger than memory did not panic")
		}
	}()
	Array[[1 << 20]byte](&m, math.MaxInt/(1<<19))
}
