package sim

import (
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
)

// The plot is well-formed SVG with a point per value and series, and
// escapes what it is given.
func TestPlotSVG(t *testing.T) {
	pts := []Point{
		{Value: "3/5", Result: Result{DurabilityNines: 3.9, ExtrapolatedNines: 3.9, Availability: 0.9966}},
		{Value: "10/30", Result: Result{DurabilityNines: 4.3, DurabilityNinesBound: true, ExtrapolatedNines: 17.4, Availability: 1}},
	}
	var b strings.Builder
	if err := PlotSVG(&b, "a <title> & more", "code", pts); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	d := xml.NewDecoder(strings.NewReader(out))
	circles := 0
	for {
		tok, err := d.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatalf("not well-formed: %v\n%s", err, out)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "circle" {
			circles++
		}
	}
	if circles != 3*len(pts) {
		t.Errorf("%d points, want %d", circles, 3*len(pts))
	}
	if !strings.Contains(out, "a &lt;title&gt; &amp; more") || !strings.Contains(out, `fill="white"`) {
		t.Errorf("title not escaped or bound not hollow:\n%s", out)
	}
}
