package decode

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
)

// OpenFile opens a capture file for reading: pcap (either byte order, micro-
// or nanosecond timestamps) or pcapng, either of them optionally
// gzip-compressed. The format is chosen by the content, never by the name.
// The path "-" means standard input. The file is read front to back without
// seeking, so FIFOs work too.
//
// A directory gives ErrIsDir and a missing file an error matching
// fs.ErrNotExist. Every error names the file; errors about its content also
// name the packet number and byte offset where reading stopped (for a gzip
// file, the offset in the decompressed stream) and wrap one of ErrEmpty,
// ErrBadMagic, ErrTruncated or ErrCorrupt. Frames before the error have all been returned
// by Next. Next leaves f as it was when it returns an error, io.EOF included,
// so that f still describes the last frame (but its Data is no longer valid).
func OpenFile(path string) (Source, error) {
	if path == "-" {
		// Stdin belongs to the process: Close leaves it open.
		return NewReader("stdin", io.NopCloser(os.Stdin))
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err != nil {
		f.Close()
		return nil, err
	} else if st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, ErrIsDir)
	}
	s, err := NewReader(path, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

// NewReader reads a capture from r as OpenFile does; name is used in error
// messages. The Source's Close closes r; when NewReader fails, r is left open.
func NewReader(name string, r io.ReadCloser) (Source, error) {
	rd := &reader{name: name, closer: r, buf: newBuffer(r)}
	magic, err := rd.buf.peek(4)
	if len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, gzErr := gzip.NewReader(rd.buf)
		if gzErr != nil {
			return nil, rd.headerError(gzErr)
		}
		rd.gz = true
		rd.buf = newBuffer(gz)
		magic, err = rd.buf.peek(4)
		if len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b {
			return nil, fmt.Errorf("%s: gzip inside gzip: %w", name, ErrBadMagic)
		}
	}
	if len(magic) < 4 {
		switch {
		case len(magic) == 0 && err == io.EOF:
			return nil, fmt.Errorf("%s: %w", name, ErrEmpty)
		case err == io.EOF:
			return nil, rd.errorf(ErrTruncated, "file header: only %d bytes", len(magic))
		}
		return nil, rd.headerError(err)
	}
	if bytes.Equal(magic, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		return &ngReader{reader: rd}, nil
	}
	p := &pcapReader{reader: rd}
	if err := p.readHeader(); err != nil {
		return nil, err
	}
	return p, nil
}

// reader holds what the pcap and pcapng readers share: the stream, the
// frame count and error reporting.
type reader struct {
	name   string
	closer io.Closer
	buf    *buffer
	gz     bool
	n      uint64 // frames returned so far
}

func (r *reader) Close() error { return r.closer.Close() }

// errorf builds the error for a problem at the current offset, while reading
// frame r.n+1.
func (r *reader) errorf(sentinel error, format string, args ...any) error {
	where := "offset"
	if r.gz {
		where = "decompressed offset"
	}
	return fmt.Errorf("%s: packet %d (%s %d): %w: %s",
		r.name, r.n+1, where, r.buf.off, sentinel, fmt.Sprintf(format, args...))
}

// readError turns an error from peek into a reader error: a clean end of
// stream in the middle of a record is a truncation, and so is a gzip stream
// that stops early; damaged compressed data is corruption.
func (r *reader) readError(what string, have, want int, err error) error {
	switch sentinel := classify(err); {
	case err == io.EOF:
		return r.errorf(ErrTruncated, "%s needs %d bytes, file ends after %d", what, want, have)
	case sentinel == ErrTruncated:
		return fmt.Errorf("%w (gzip stream cut short)", r.errorf(ErrTruncated, "%s needs %d bytes, %d read", what, want, have))
	case sentinel != nil:
		return fmt.Errorf("%w: %w", r.errorf(sentinel, "%s", what), err)
	}
	return fmt.Errorf("%s: packet %d (offset %d): reading %s: %w", r.name, r.n+1, r.buf.off, what, err)
}

// headerError reports a failure to read the start of the file or of its
// gzip stream.
func (r *reader) headerError(err error) error {
	if sentinel := classify(err); sentinel != nil {
		return fmt.Errorf("%s: file header: %w: %w", r.name, sentinel, err)
	}
	return fmt.Errorf("%s: %w", r.name, err)
}

// classify maps errors of the stream under the reader (gzip's, mostly) to
// the reader's sentinels; nil means an I/O error to pass on as it is.
func classify(err error) error {
	var corrupt flate.CorruptInputError
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return ErrTruncated
	case errors.Is(err, gzip.ErrChecksum), errors.Is(err, gzip.ErrHeader), errors.As(err, &corrupt):
		return ErrCorrupt
	}
	return nil
}
