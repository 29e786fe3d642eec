package decode

/*
#cgo LDFLAGS: -lpcap
#include <stdio.h>
#include <stdlib.h>
#include <pcap/pcap.h>

// compile compiles expr for a link type, as tcpdump would for a file of that
// link type, and leaves the message in errbuf on failure.
static int tt_compile(int link, const char *expr, struct bpf_program *prog, char *errbuf, size_t n) {
	pcap_t *p = pcap_open_dead(link, 262144);
	if (p == NULL) {
		snprintf(errbuf, n, "pcap_open_dead failed");
		return -1;
	}
	int rc = pcap_compile(p, prog, expr, 1, PCAP_NETMASK_UNKNOWN);
	if (rc < 0) {
		snprintf(errbuf, n, "%s", pcap_geterr(p));
	}
	pcap_close(p);
	return rc;
}

static int tt_match(struct bpf_program *prog, const u_char *data, bpf_u_int32 caplen, bpf_u_int32 len) {
	struct pcap_pkthdr h = {0};
	h.caplen = caplen;
	h.len = len;
	return pcap_offline_filter(prog, &h, data);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"
)

// ErrFilter is wrapped by the errors of NewFilter and Match for an
// expression libpcap cannot compile.
var ErrFilter = errors.New("bad filter expression")

// Filter applies a tcpdump filter expression to frames read from files.
// Live captures filter in the kernel instead (LiveConfig.Filter).
//
// A BPF program depends on the link type, and a pcapng file may mix link
// types, so Filter compiles the expression once per link type, when the
// first frame of that type arrives. The programs are compiled by libpcap
// directly rather than through gopacket/pcap, whose link type is a byte and
// cannot name LINKTYPE_LINUX_SLL2 (276), the type of tcpdump -i any.
type Filter struct {
	expr  string
	progs []program
}

type program struct {
	link LinkType
	bpf  *C.struct_bpf_program // in C memory: libpcap fills it with C pointers
	err  error                 // why the expression does not compile for this link type
}

// Older libpcap's compiler is not reentrant; one lock for all filters.
var compileMu sync.Mutex

// NewFilter checks expr by compiling it for Ethernet. The empty expression
// gives a nil *Filter, which matches everything.
func NewFilter(expr string) (*Filter, error) {
	if expr == "" {
		return nil, nil
	}
	f := &Filter{expr: expr}
	if p := f.program(LinkEthernet); p.err != nil {
		f.Close()
		return nil, p.err
	}
	return f, nil
}

func (f *Filter) program(link LinkType) *program {
	for i := range f.progs {
		if f.progs[i].link == link {
			return &f.progs[i]
		}
	}
	f.progs = append(f.progs, program{link: link})
	p := &f.progs[len(f.progs)-1]
	cexpr := C.CString(f.expr)
	defer C.free(unsafe.Pointer(cexpr))
	var errbuf [C.PCAP_ERRBUF_SIZE]C.char
	compileMu.Lock()
	p.bpf = (*C.struct_bpf_program)(C.calloc(1, C.sizeof_struct_bpf_program))
	rc := C.tt_compile(dlt(link), cexpr, p.bpf, &errbuf[0], C.size_t(len(errbuf)))
	compileMu.Unlock()
	if rc < 0 {
		C.free(unsafe.Pointer(p.bpf))
		p.bpf = nil
		p.err = fmt.Errorf("%w %q for link type %v: %s", ErrFilter, f.expr, link, C.GoString(&errbuf[0]))
	}
	return p
}

// dlt maps a LINKTYPE_ value, as files carry, to the DLT_ value libpcap's
// compiler takes; they differ for raw IP and LOOP only.
func dlt(l LinkType) C.int {
	switch l {
	case LinkRaw, LinkRawDLT12, LinkRawDLT14:
		return C.DLT_RAW
	case LinkLoop:
		return C.DLT_LOOP
	}
	return C.int(l)
}

// Match reports whether the frame passes the filter. A nil Filter passes
// everything. The error, wrapping ErrFilter, says the expression does not
// compile for the frame's link type (for example "ether host" on raw IP); it
// comes back for every frame of that type.
func (f *Filter) Match(fr *Frame) (bool, error) {
	if f == nil {
		return true, nil
	}
	p := f.program(fr.LinkType)
	if p.err != nil {
		return false, p.err
	}
	var empty [1]byte
	data := &empty[0]
	if len(fr.Data) > 0 {
		data = &fr.Data[0]
	}
	wire := max(fr.WireLen, len(fr.Data))
	return C.tt_match(p.bpf, (*C.u_char)(unsafe.Pointer(data)), C.bpf_u_int32(len(fr.Data)), C.bpf_u_int32(wire)) != 0, nil
}

// Close frees the compiled programs. A closed Filter recompiles on the next
// Match, so closing early is safe if wasteful.
func (f *Filter) Close() {
	if f == nil {
		return
	}
	for i := range f.progs {
		if b := f.progs[i].bpf; b != nil {
			C.pcap_freecode(b)
			C.free(unsafe.Pointer(b))
		}
	}
	f.progs = nil
}
