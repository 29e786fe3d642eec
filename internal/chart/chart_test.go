package chart

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

// svg is what a test reads of a picture: its texts and, by stroke colour,
// the number of vertices of each path drawn in that colour.
type svg struct {
	texts []string
	paths map[string][]int
}

func parseSVG(t *testing.T, b []byte) svg {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(b))
	doc := svg{paths: map[string][]int{}}
	var root, elem string
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v", err)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = e.Name.Local
			}
			elem = e.Name.Local
			if elem != "path" {
				continue
			}
			var d, stroke string
			for _, a := range e.Attr {
				switch a.Name.Local {
				case "d":
					d = a.Value
				case "style":
					for decl := range strings.SplitSeq(a.Value, ";") {
						if c, ok := strings.CutPrefix(decl, "stroke:"); ok {
							stroke = strings.ToUpper(c)
						}
					}
				}
			}
			if stroke != "" {
				doc.paths[stroke] = append(doc.paths[stroke], strings.Count(d, "M")+strings.Count(d, "L"))
			}
		case xml.CharData:
			if elem == "text" {
				doc.texts = append(doc.texts, strings.TrimSpace(string(e)))
			}
		case xml.EndElement:
			elem = ""
		}
	}
	if root != "svg" {
		t.Fatalf("root element %q, want svg", root)
	}
	return doc
}

func hex(i int) string {
	c := Palette[i]
	return fmt.Sprintf("#%02X%02X%02X", c.R, c.G, c.B)
}

// TestWriteSVG draws three series, one of them never counted, over 2.5 s
// and checks the picture: a line of one vertex per sample and one per
// change (steps) and a legend line for each series counted, nothing for
// the other, the names, the title, the axes' labels and their ticks.
func TestWriteSVG(t *testing.T) {
	origin := time.Date(2026, 11, 21, 9, 1, 17, 0, time.UTC)
	names := []string{"ESTABLISHED", "SYN_SENT", "TIME_WAIT"}
	counts := [][]int{{1, 0, 5}, {3, 0, 5}, {7, 0, 2}, {7, 0, 0}, {4, 0, 1}, {2, 0, 1}}
	var samples []Sample
	for j, c := range counts {
		samples = append(samples, Sample{Time: origin.Add(time.Duration(j) * 500 * time.Millisecond), Counts: c})
	}
	var b bytes.Buffer
	if err := WriteSVG(&b, "the title", origin, names, samples); err != nil {
		t.Fatal(err)
	}
	doc := parseSVG(t, b.Bytes())

	steps := []int{2*len(samples) - 1, 2}
	for i, name := range names {
		got := doc.paths[hex(i)]
		if i == 1 {
			if len(got) != 0 || slices.Contains(doc.texts, name) {
				t.Errorf("%s is never counted: paths %v, legend %v; want neither", name, got, slices.Contains(doc.texts, name))
			}
			continue
		}
		if !slices.Equal(got, steps) {
			t.Errorf("%s: paths of %v vertices, want %v (the steps, the legend's line)", name, got, steps)
		}
		if !slices.Contains(doc.texts, name) {
			t.Errorf("%s is not in the legend: %q", name, doc.texts)
		}
	}
	for _, want := range []string{
		"the title", "seconds from 2026-11-21T09:01:17Z", "endpoints",
		"0.0", "0.5", "1.0", "2.5", // x: 0 to 2.5 s, in half seconds
		"0", "2", "6", "8", // y: 0 to the 7 of ESTABLISHED, in twos, ended on a tick
	} {
		if !slices.Contains(doc.texts, want) {
			t.Errorf("no text %q in %q", want, doc.texts)
		}
	}
	if slices.Contains(doc.texts, "3.0") || slices.Contains(doc.texts, "10") {
		t.Errorf("ticks beyond the axes' ends: %q", doc.texts)
	}
}

func TestWriteSVGRefuses(t *testing.T) {
	if err := WriteSVG(io.Discard, "", time.Time{}, []string{"A"}, nil); !errors.Is(err, ErrNoSamples) {
		t.Errorf("no samples: %v, want ErrNoSamples", err)
	}
	names := make([]string, len(Palette)+1)
	s := []Sample{{Counts: make([]int, len(names))}}
	if err := WriteSVG(io.Discard, "", time.Time{}, names, s); err == nil {
		t.Errorf("%d series drawn with %d colours", len(names), len(Palette))
	}
}

// TestTicks holds the steps to 1, 2 or 5 times a power of ten, at most n
// parts of the span, and the labels to the decimals the step needs.
func TestTicks(t *testing.T) {
	for _, c := range []struct {
		span float64
		n    int
		want []string
	}{
		{13.3, 8, []string{"0", "2", "4", "6", "8", "10", "12"}},
		{72, 6, []string{"0", "20", "40", "60"}},
		{0.3, 8, []string{"0.00", "0.05", "0.10", "0.15", "0.20", "0.25", "0.30"}},
		{1, 8, []string{"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"}},
		{100, 10, []string{"0", "10", "20", "30", "40", "50", "60", "70", "80", "90", "100"}},
	} {
		var got []string
		for _, tk := range ticks(c.span, step(c.span, c.n)) {
			got = append(got, tk.label)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("ticks(%v, step(%v, %d)) = %q, want %q", c.span, c.span, c.n, got, c.want)
		}
	}
}
