package tracker

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// TestMappingsReleased checks that a Tracker's mapped memory goes back to
// the system once the Tracker is garbage: a program that makes trackers
// one after another (a test suite, a fuzzer) must not pile up mappings.
// It looks for the flows' address in the process's memory map, as the
// cleanup runs on a goroutine of the runtime's.
func TestMappingsReleased(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("memory is mapped on Linux only")
	}
	addr := func() uintptr {
		tr := New(Config{MaxFlows: 100_000})
		var seg Segment
		for n := range uint32(5000) { // enough flows to grow the index a few times
			floodSeg(&seg, n, time.Unix(1, 0))
			tr.Track(&seg)
		}
		return uintptr(unsafe.Pointer(&tr.flows.conns[0]))
	}()
	mapped := func() bool {
		maps, err := os.ReadFile("/proc/self/maps")
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(maps), "\n") {
			var lo, hi uintptr
			if _, err := fmt.Sscanf(l, "%x-%x", &lo, &hi); err == nil && lo <= addr && addr < hi {
				return true
			}
		}
		return false
	}
	if !mapped() {
		t.Fatalf("no mapping holds %#x in /proc/self/maps", addr)
	}
	for deadline := time.Now().Add(10 * time.Second); mapped(); {
		if time.Now().After(deadline) {
			t.Fatal("the flows' mapping is still there 10 s after the tracker was dropped")
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}
