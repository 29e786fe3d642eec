package chart

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"time"

	"codeberg.org/go-fonts/liberation/liberationserifregular"
	"golang.org/x/image/font/opentype"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
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

// The picture's size and proportions, in points.
const (
	width     = 24 * vg.Centimeter
	height    = 13 * vg.Centimeter
	pad       = 6  // around the picture and between its parts
	tickLen   = 4  // a tick's length out of the plot area
	sampleLen = 20 // the line beside a name in the legend
	titleSize = 12
	labelSize = 12 // axis labels and legend names
	tickSize  = 10 // tick labels
)

var (
	black    = color.Black
	gridGrey = color.Gray{Y: 0xc4}
	// serif is the one face the picture uses, that of gonum's plots.
	serif = font.Font{Typeface: "Liberation", Variant: "Serif"}
)

// series is a line to draw: its name, its colour, its count at each sample.
type series struct {
	name   string
	colour color.Color
	y      []float64
}

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
	x := make([]float64, len(samples))
	for j, s := range samples {
		x[j] = s.Time.Sub(origin).Seconds()
	}
	var lines []series
	for i, name := range names {
		y := make([]float64, len(samples))
		present := false
		for j, s := range samples {
			y[j] = float64(s.Counts[i])
			present = present || s.Counts[i] != 0
		}
		if present {
			lines = append(lines, series{name, Palette[i], y})
		}
	}
	// Parsed here, not at start: most runs never draw.
	face, err := opentype.Parse(liberationserifregular.TTF)
	if err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	c := vgsvg.New(width, height)
	p := &picture{c: draw.New(c), fonts: font.NewCache(font.Collection{{Font: serif, Face: face}})}
	p.draw(title, "seconds from "+origin.UTC().Format(time.RFC3339Nano), x, lines)
	if _, err := c.WriteTo(w); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	return nil
}

// picture is a canvas and the fonts to write on it.
type picture struct {
	c     draw.Canvas
	fonts *font.Cache
}

// draw lays out and draws the whole picture: the title above, the legend at
// the right, the axes' labels and ticks at the left and below, the plot
// area with its grid and lines in what remains.
func (p *picture) draw(title, xLabel string, x []float64, lines []series) {
	xTop, yTop := 0.0, 0.0
	for _, v := range x {
		xTop = max(xTop, v)
	}
	for _, s := range lines {
		for _, v := range s.y {
			yTop = max(yTop, v)
		}
	}
	// A capture of one moment or of no counts still gets axes to draw.
	if xTop <= 0 {
		xTop = 1
	}
	xTicks := ticks(xTop, step(xTop, 8))
	// Counts are whole: no tick between two.
	yStep := max(1, step(max(yTop, 1), 6))
	yTop = math.Ceil(max(yTop, 1)/yStep) * yStep
	yTicks := ticks(yTop, yStep)

	var yTickW, legendW vg.Length
	for _, t := range yTicks {
		yTickW = max(yTickW, p.width(tickSize, t.label))
	}
	for _, s := range lines {
		legendW = max(legendW, p.width(labelSize, s.name))
	}
	// A fifth more for the names: a viewer without Liberation Serif draws
	// them in a wider serif (DejaVu's) and would cut them at the edge.
	legendW = sampleLen + pad + legendW*6/5
	left := pad + p.height(labelSize) + pad + yTickW + pad/2 + tickLen
	bottom := pad + p.height(labelSize) + pad/2 + p.height(tickSize) + pad/2 + tickLen
	top := height - pad - p.height(titleSize) - pad
	right := width - pad - legendW - 2*pad
	px := func(v float64) vg.Length { return left + (right-left)*vg.Length(v/xTop) }
	py := func(v float64) vg.Length { return bottom + (top-bottom)*vg.Length(v/yTop) }

	// A white ground, for viewers that show a transparent one dark.
	p.c.FillPolygon(color.White, []vg.Point{{X: 0, Y: 0}, {X: width, Y: 0}, {X: width, Y: height}, {X: 0, Y: height}})

	thin := draw.LineStyle{Color: black, Width: 0.5}
	grid := draw.LineStyle{Color: gridGrey, Width: 0.5}
	for _, t := range xTicks {
		p.c.StrokeLine2(grid, px(t.v), bottom, px(t.v), top)
		p.c.StrokeLine2(thin, px(t.v), bottom, px(t.v), bottom-tickLen)
		p.text(tickSize, vg.Point{X: px(t.v), Y: bottom - tickLen - pad/2}, draw.XCenter, draw.YTop, 0, t.label)
	}
	for _, t := range yTicks {
		p.c.StrokeLine2(grid, left, py(t.v), right, py(t.v))
		p.c.StrokeLine2(thin, left, py(t.v), left-tickLen, py(t.v))
		p.text(tickSize, vg.Point{X: left - tickLen - pad/2, Y: py(t.v)}, draw.XRight, draw.YCenter, 0, t.label)
	}
	p.c.StrokeLines(thin, []vg.Point{{X: left, Y: top}, {X: left, Y: bottom}, {X: right, Y: bottom}})
	p.text(labelSize, vg.Point{X: (left + right) / 2, Y: pad}, draw.XCenter, draw.YBottom, 0, xLabel)
	// Rotated a quarter turn, the label's top faces the picture's left edge.
	p.text(labelSize, vg.Point{X: pad, Y: (bottom + top) / 2}, draw.XCenter, draw.YTop, math.Pi/2, "endpoints")
	p.text(titleSize, vg.Point{X: (left + right) / 2, Y: height - pad}, draw.XCenter, draw.YTop, 0, title)

	row := p.height(labelSize)
	for k, s := range lines {
		pen := draw.LineStyle{Color: s.colour, Width: 1.5}
		// A count is drawn flat to the next sample, where a change is first
		// seen: what happened between two samples is not known.
		pts := make([]vg.Point, 0, 2*len(x))
		for j := range x {
			if j > 0 {
				pts = append(pts, vg.Point{X: px(x[j]), Y: py(s.y[j-1])})
			}
			pts = append(pts, vg.Point{X: px(x[j]), Y: py(s.y[j])})
		}
		p.c.StrokeLines(pen, pts)

		y := top - row*(vg.Length(k)+0.5)
		x0 := right + 2*pad
		p.c.StrokeLine2(pen, x0, y, x0+sampleLen, y)
		p.text(labelSize, vg.Point{X: x0 + sampleLen + pad, Y: y}, draw.XLeft, draw.YCenter, 0, s.name)
	}
}

// style is the text style of the picture at a size.
func (p *picture) style(size vg.Length) draw.TextStyle {
	return draw.TextStyle{Color: black, Font: font.From(serif, size), Handler: text.Plain{Fonts: p.fonts}}
}

// text writes s at pt, aligned and rotated as asked.
func (p *picture) text(size vg.Length, pt vg.Point, xa draw.XAlignment, ya draw.YAlignment, rot float64, s string) {
	sty := p.style(size)
	sty.XAlign, sty.YAlign, sty.Rotation = xa, ya, rot
	p.c.FillText(sty, pt, s)
}

func (p *picture) width(size vg.Length, s string) vg.Length { return p.style(size).Width(s) }

func (p *picture) height(size vg.Length) vg.Length { return p.style(size).FontExtents().Height }
