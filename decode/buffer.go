package decode

import (
	"io"
)

// maxRecord bounds the captured length of one record. No link layer tcptrack
// reads carries frames near it (Linux's largest GSO super-packet is 64 KiB
// plus headers, BIG TCP up to 512 KiB is not used on captures in practice),
// so a larger length means the file is corrupt, and refusing it keeps a
// garbage length from making the reader buffer gigabytes.
const maxRecord = 256 << 10

// maxBlock bounds the pcapng blocks the reader parses in memory (section and
// interface descriptions, packet blocks with their options). Other blocks are
// skipped as they stream past, whatever their length.
const maxBlock = maxRecord + 64<<10

// bufSize is the read buffer's size. It holds the largest record or block
// the readers accept, so peek never needs a bigger one (the constant
// expression below fails to compile if that stops being true).
const bufSize = 1 << 20

const _ = uint(bufSize - maxBlock)

// readSize is how much peek asks the stream for when it needs less. Reads
// this small keep landing in the same front part of the buffer, which stays
// in the CPU's cache between reads: the kernel's copy writes to lines that
// are there, and the records are still there when they are decoded.
// Reading all of bufSize at once filled a 1 MiB L2 cache and pushed out the
// bytes before their turn came (read and decode of the mix trace: 41.7 ->
// 38.6 ns/pkt; 64 KiB and 256 KiB did no better, 16 KiB worse).
const readSize = 128 << 10

// buffer is a forward-only window over an io.Reader that hands out slices of
// its own memory, so that reading a record copies nothing. It never seeks, so
// pipes, FIFOs and stdin work.
type buffer struct {
	r          io.Reader
	buf        *[bufSize]byte // an array, not a slice: slicing it needs no length loaded or checked
	start, end int            // buf[start:end] is read but not consumed
	off        int64          // stream offset of buf[start]
	err        error          // sticky error of r (io.EOF at the end)
}

func newBuffer(r io.Reader) *buffer {
	return &buffer{r: r, buf: new([bufSize]byte)}
}

// peek returns the next n (at most bufSize) bytes without consuming them;
// they stay valid until the next peek. If the stream ends or fails first, it
// returns the bytes there are together with the error (io.EOF at a clean
// end).
func (b *buffer) peek(n int) ([]byte, error) {
	if b.end-b.start >= n {
		return b.buf[b.start : b.start+n], nil
	}
	if b.start > 0 {
		// What is left is shorter than n, so this copy is cheap; it makes
		// room for one large read.
		b.end = copy(b.buf[:], b.buf[b.start:b.end])
		b.start = 0
	}
	for zero := 0; b.end < n && b.err == nil; {
		m, err := b.r.Read(b.buf[b.end:max(n, readSize)])
		b.end += m
		if err != nil {
			b.err = err
		}
		if m == 0 && err == nil {
			if zero++; zero > 100 {
				b.err = io.ErrNoProgress
			}
		}
	}
	if b.end < n {
		return b.buf[:b.end], b.err
	}
	return b.buf[:n], nil
}

// discard consumes n bytes that peek has returned.
func (b *buffer) discard(n int) {
	b.start += n
	b.off += int64(n)
}

// skip consumes n bytes, reading past the buffer when needed. It returns the
// number of bytes skipped, short only together with an error.
func (b *buffer) skip(n int64) (int64, error) {
	var done int64
	for done < n {
		if b.start == b.end {
			if _, err := b.peek(1); err != nil && b.start == b.end {
				return done, err
			}
		}
		k := min(int64(b.end-b.start), n-done)
		b.discard(int(k))
		done += k
	}
	return done, nil
}

// Read makes the buffer an io.Reader, for the gzip layer that sits on it.
func (b *buffer) Read(p []byte) (int, error) {
	if b.start == b.end {
		if _, err := b.peek(1); b.start == b.end {
			return 0, err
		}
	}
	n := copy(p, b.buf[b.start:b.end])
	b.discard(n)
	return n, nil
}
