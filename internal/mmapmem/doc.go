// Package mmapmem hands out arrays in memory mapped from the system rather
// than in the Go heap, where the system allows it (Linux), and from the Go
// heap elsewhere:
//
//   - An array is reserved at its bound up front and costs memory only for
//     the pages touched: a table grows without copying or chunks, and a
//     table that stays small stays small.
//   - Past its first few megabytes an array asks for transparent huge
//     pages. A SYN flood touches a fresh flow record with nearly every
//     packet; with 4 KiB pages a fifth of its time went to page faults.
//   - The garbage collector neither scans the arrays (they must hold no
//     pointers) nor has to run to give back an array its owner outgrew.
//
// The garbage collector does not see mapped memory: no pointer into an
// array keeps anything alive, and nothing frees an array but Free or
// Mappings.Release. An owner that releases its Mappings when it is
// collected (runtime.AddCleanup) must keep itself alive while it uses the
// arrays (runtime.KeepAlive).
package mmapmem
