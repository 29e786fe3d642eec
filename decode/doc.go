// Package decode turns captured frames into tracker.Segments. It owns
// everything between bytes and the tracker: the capture file readers (pcap in
// either byte order with micro- or nanosecond timestamps, pcapng with any
// number of sections and interfaces, either of them gzip-compressed, chosen
// by content), live capture through libpcap or by reading the kernel's
// TPACKET_V3 ring from Go (the afpacket engine), tcpdump filter expressions,
// and the frame decoder. It is the only package of tcptrack that imports
// gopacket or links libpcap.
//
// # How long bytes stay valid
//
// Readers do not copy: Frame.Data returned by a Source's Next points into the
// Source's buffer (or libpcap's, or the kernel's ring) and is valid only
// until the next call of Next or Close on that Source. The Decoder copies
// every value it needs into the tracker.Segment, which holds no reference to
// the frame, so a Segment may be kept as long as wanted.
//
// # Errors
//
// File errors name the file, the number of the packet being read and the
// byte offset where the problem starts (in the decompressed stream for a
// gzip file), and wrap one of ErrEmpty, ErrIsDir, ErrBadMagic, ErrTruncated
// or ErrCorrupt; all frames before the error have been returned. Decode never
// fails loudly: a frame it cannot use is counted by Reason in Stats and
// reported as a *ReasonError matching ErrNotTCP (fine, but nothing to track)
// or ErrMalformed (broken). Live capture adds ErrTimeout (a quiet link: call
// Next again) and ErrInterfaceGone (reopen later).
//
// # IP fragments
//
// Fragments are reassembled inside Decode, as Linux reassembles them, in a
// fixed store allocated at the first fragment; reassembly.go says how and
// why it is not gopacket's ip4defrag.
//
// # Why not gopacket's layer decoders
//
// gopacket is used for live capture (gopacket/pcap) and by the tests, which
// build their frames with gopacket's serializers and read files written by
// gopacket/pcapgo. The hot path parses headers itself, for four measured
// reasons: gopacket's DecodeFromBytes allocates an error with fmt.Errorf for
// every malformed frame (a flood of them would allocate per packet) and
// allocates per IPv6 hop-by-hop option; it rejects TCP headers whose options
// the snaplen cut, where this decoder keeps the options that were captured;
// it has no Linux cooked v2 and its LinkType is a byte, too small for 276;
// and it is slower: BenchmarkDecode fills a whole Segment in about half the
// time gopacket's DecodingLayerParser takes just to walk the same frame's
// layers (BenchmarkGopacketParser). Likewise the file readers are this
// package's own because pcapgo reports neither packet numbers nor offsets and
// cannot read SLL2 files' link type. The decoder's output is checked field by
// field against tshark on real captures (TestAgainstTshark).
package decode
