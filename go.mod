module github.com/tcptrack/tcptrack

go 1.26.8
