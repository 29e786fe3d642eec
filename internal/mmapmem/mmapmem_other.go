//go:build !linux

package mmapmem

import "errors"

// mapBytes is Linux only; elsewhere the arrays come from the Go heap.
func mapBytes(int) ([]byte, error) { return nil, errors.ErrUnsupported }

func unmapBytes([]byte) {}
