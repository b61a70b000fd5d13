package sim

import (
	"fmt"
	"html"
	"io"
	"strings"
)

// Point is one value of a swept parameter and its result.
type Point struct {
	Value  string
	Result Result
}

// ninesCap caps what a plot shows (availability with no failed read is
// infinitely many nines).
const ninesCap = 20

// PlotSVG writes a line chart of a sweep: durability nines (measured,
// or its lower bound when nothing was lost, hollow), the extrapolated
// durability nines, and availability nines (-log10 of the share of failed
// reads) against the swept values, with the goals of the issue (11 and 3
// nines) as dashed lines.
func PlotSVG(w io.Writer, title, param string, pts []Point) error {
	const W, H, left, right, top, bottom = 760, 400, 60, 210, 40, 60
	pw, ph := float64(W-left-right), float64(H-top-bottom)
	x := func(i int) float64 {
		if len(pts) == 1 {
			return left + pw/2
		}
		return left + pw*float64(i)/float64(len(pts)-1)
	}
	y := func(v float64) float64 {
		v = max(0, min(v, ninesCap))
		return top + ph*(1-v/ninesCap)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", W, H, W, H)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", W, H)
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="14" font-weight="bold">%s</text>`+"\n", left, html.EscapeString(title))
	for v := 0; v <= ninesCap; v += 2 {
		fmt.Fprintf(&b, `<line x1="%d" x2="%g" y1="%g" y2="%g" stroke="#ddd"/>`+"\n", left, left+pw, y(float64(v)), y(float64(v)))
		fmt.Fprintf(&b, `<text x="%d" y="%g" text-anchor="end">%d</text>`+"\n", left-6, y(float64(v))+4, v)
	}
	fmt.Fprintf(&b, `<text transform="translate(16 %g) rotate(-90)" text-anchor="middle">nines</text>`+"\n", top+ph/2)
	for _, g := range []struct {
		v     float64
		color string
	}{{11, "#1f5fbf"}, {3, "#c0392b"}} {
		fmt.Fprintf(&b, `<line x1="%d" x2="%g" y1="%g" y2="%g" stroke="%s" stroke-dasharray="4 4"/>`+"\n", left, left+pw, y(g.v), y(g.v), g.color)
	}
	for i, p := range pts {
		fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="middle">%s</text>`+"\n", x(i), top+ph+18, html.EscapeString(p.Value))
	}
	fmt.Fprintf(&b, `<text x="%g" y="%d" text-anchor="middle">%s</text>`+"\n", left+pw/2, H-14, html.EscapeString(param))
	series := []struct {
		name, color string
		v           func(r Result) (float64, bool) // value, and whether it is a bound
	}{
		{"durability", "#1f5fbf", func(r Result) (float64, bool) { return r.DurabilityNines, r.DurabilityNinesBound }},
		{"durability, extrapolated", "#7fa7e0", func(r Result) (float64, bool) { return r.ExtrapolatedNines, false }},
		{"availability", "#c0392b", func(r Result) (float64, bool) { return nines(1 - r.Availability), false }},
	}
	for si, s := range series {
		var path strings.Builder
		for i, p := range pts {
			v, _ := s.v(p.Result)
			fmt.Fprintf(&path, "%s%.1f %.1f", map[bool]string{true: "M", false: " L"}[i == 0], x(i), y(v))
		}
		fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", path.String(), s.color)
		for i, p := range pts {
			v, bound := s.v(p.Result)
			fill := s.color
			if bound {
				fill = "white"
			}
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="4" fill="%s" stroke="%s" stroke-width="2"/>`+"\n", x(i), y(v), fill, s.color)
		}
		ly := top + 10 + 20*si

		fmt.Fprintf(&b, `<line x1="%g" x2="%g" y1="%d" y2="%d" stroke="%s" stroke-width="2"/>`+"\n", left+pw+14, left+pw+34, ly, ly, s.color)
		fmt.Fprintf(&b, `<text x="%g" y="%d">%s</text>`+"\n", left+pw+40, ly+4, s.name)
	}
	fmt.Fprintf(&b, `<text x="%g" y="%d" font-size="10">hollow: lower bound</text>`+"\n", left+pw+14, top+74)
	fmt.Fprintf(&b, `<text x="%g" y="%d" font-size="10">(nothing lost)</text>`+"\n", left+pw+14, top+86)
	fmt.Fprintf(&b, `<text x="%g" y="%d" font-size="10">dashed: goals</text>`+"\n", left+pw+14, top+102)
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}
