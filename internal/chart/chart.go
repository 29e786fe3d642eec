package chart

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Sample is the count of every series at one moment: Counts[i] belongs to
// the i-th name given to WriteSVG.
type Sample struct {
	Time   time.Time
	Counts []int
}

// Palette is the colour of the i-th series, fixed so that a series keeps
// its colour from one picture to the next whichever others are present:
// Tableau's ten (the grey made teal, apart from the grid's), then two
// more, none the black of the axes. A test finds each series by its colour.
var Palette = []color.RGBA{
	{0x1f, 0x77, 0xb4, 0xff}, {0xff, 0x7f, 0x0e, 0xff}, {0x2c, 0xa0, 0x2c, 0xff}, {0xd6, 0x27, 0x28, 0xff},
	{0x94, 0x67, 0xbd, 0xff}, {0x8c, 0x56, 0x4b, 0xff}, {0xe3, 0x77, 0xc2, 0xff}, {0x00, 0x6d, 0x5b, 0xff},
	{0xbc, 0xbd, 0x22, 0xff}, {0x17, 0xbe, 0xcf, 0xff}, {0x00, 0x00, 0x80, 0xff}, {0xaa, 0x11, 0x77, 0xff},
}

// ErrNoSamples is returned for a picture of nothing.
var ErrNoSamples = errors.New("chart: no samples to draw")

// Size of the picture.
const (
	width       = 24 * vg.Centimeter
	height      = 13 * vg.Centimeter
	legendWidth = 5 * vg.Centimeter // "UNCONFIRMED" and its line
)

// WriteSVG draws the samples as one line per name whose count is not zero
// in every sample (a series that never has a count would only crowd the
// legend), titled title, with the time in seconds from origin on the x
// axis. names has at most len(Palette) entries.
func WriteSVG(w io.Writer, title string, origin time.Time, names []string, samples []Sample) error {
	if len(samples) == 0 {
		return ErrNoSamples
	}
	if len(names) > len(Palette) {
		return fmt.Errorf("chart: %d series, at most %d", len(names), len(Palette))
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "seconds from " + origin.UTC().Format(time.RFC3339Nano)
	p.Y.Label.Text = "endpoints"
	p.Y.Min = 0 // counts: the axis starts at none
	p.Add(plotter.NewGrid())
	// The legend goes beside the plot, not over the lines.
	legend := plot.NewLegend()
	legend.Top = true
	legend.Left = true
	for i, name := range names {
		xy := make(plotter.XYs, len(samples))
		present := false
		for j, s := range samples {
			xy[j].X = s.Time.Sub(origin).Seconds()
			xy[j].Y = float64(s.Counts[i])
			present = present || s.Counts[i] != 0
		}
		if !present {
			continue
		}
		l, err := plotter.NewLine(xy)
		if err != nil {
			return fmt.Errorf("chart: %s: %w", name, err)
		}
		l.Color = Palette[i]
		l.Width = vg.Points(1.5)
		// A count is drawn flat to the next sample, where a change is
		// first seen: what happened between two samples is not known.
		l.StepStyle = plotter.PostStep
		p.Add(l)
		legend.Add(name, l)
	}
	c := vgsvg.New(width, height)
	dc := draw.New(c)
	p.Draw(draw.Crop(dc, 0, -legendWidth, 0, 0))
	legend.Draw(draw.Crop(dc, width-legendWidth+3*vg.Millimeter, 0, -p.Title.TextStyle.Height(p.Title.Text), 0))
	if _, err := c.WriteTo(w); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	return nil
}
