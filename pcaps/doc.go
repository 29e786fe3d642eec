// Package pcaps holds the kernel ground truth: captures recorded from real
// Linux sockets in network namespaces (NAME.pcap), each beside the `ss -tan`
// output of every namespace taken at the moment its capture stopped
// (NAME.ss). The recorder is cmd/tcptrack-record; README.md says what each
// capture contains. The package has no code: its test runs every capture
// through decode and tracker and holds the result to the kernel's answer.
package pcaps
