// Package chart draws counts over time as an SVG picture, for tcptrack
// --plot: one step line per series in a fixed colour, a legend naming them,
// the time in seconds on the x axis and the count on the y axis, both with
// ticks and labels, and a title.
//
// It draws with gonum's vector-graphics layer (vg, vg/draw, vg/vgsvg) and
// lays the picture out itself rather than with the package gonum.org/v1/plot:
// that package parses all twelve Liberation fonts in an init function, at
// the start of every tcptrack process, and so costs a live exporter that
// never draws 7 MiB of resident memory. Here the one face the picture uses
// is parsed only when a picture is drawn, once a file has been read, never
// while packets are tracked.
package chart
