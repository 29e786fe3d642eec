package tracker

import "testing"

func TestSeqWrap(t *testing.T) {
	for _, c := range []struct {
		v, w      Seq
		less, leq bool
	}{
		{0, 1, true, true},
		{1, 0, false, false},
		{5, 5, false, true},
		{0xFFFFFFFF, 0, true, true},
		{0, 0xFFFFFFFF, false, false},
		{0xFFFFFFF0, 0x10, true, true},
		{0x10, 0xFFFFFFF0, false, false},
		{0x7FFFFFFF, 0x80000000, true, true},
		{0, 0x7FFFFFFF, true, true},
	} {
		if got := c.v.LessThan(c.w); got != c.less {
			t.Errorf("%#x.LessThan(%#x) = %v, want %v", c.v, c.w, got, c.less)
		}
		if got := c.v.LessThanEq(c.w); got != c.leq {
			t.Errorf("%#x.LessThanEq(%#x) = %v, want %v", c.v, c.w, got, c.leq)
		}
	}
}

func TestSeqWindowAcrossWrap(t *testing.T) {
	for _, c := range []struct {
		v, first Seq
		size     uint32
		in       bool
	}{
		{0xFFFFFFFF, 0xFFFFFFF0, 0x20, true},
		{0x0000000F, 0xFFFFFFF0, 0x20, true},
		{0x00000010, 0xFFFFFFF0, 0x20, false},
		{0xFFFFFFEF, 0xFFFFFFF0, 0x20, false},
		{0, 0, 1, true},
		{0, 0, 0, false},
	} {
		if got := c.v.InWindow(c.first, c.size); got != c.in {
			t.Errorf("%#x.InWindow(%#x, %#x) = %v, want %v", c.v, c.first, c.size, got, c.in)
		}
	}
	if got := Seq(0xFFFFFFFF).Add(2); got != 1 {
		t.Errorf("Add across the wrap = %#x, want 1", got)
	}
	if got := Seq(0xFFFFFFFE).Size(3); got != 5 {
		t.Errorf("Size across the wrap = %d, want 5", got)
	}
}
