// Package chart draws counts over time as an SVG picture, for tcptrack
// --plot: one line per series, a legend, time on the x axis and the count on
// the y axis. It is built on gonum's plot package and is used once, when a
// file has been read, never while packets are tracked.
package chart
