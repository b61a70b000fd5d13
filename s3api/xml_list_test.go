package s3api

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// stdXML is what writeXML sent before the hand-written encoders.
func stdXML(t testing.TB, v any) []byte {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	if err := xml.NewEncoder(&buf).Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func appended(a xmlAppender) []byte { return a.appendXML([]byte(xml.Header)) }

// oddStrings are texts that need escaping, or replacing, in XML.
var oddStrings = []string{
	"", "plain/key.txt", `a&b<c>d"e'f`, "tab\tnew\nline\rcr", "ctl\x00\x01\x1f\x7f",
	"bad utf-8 \xff\xfe end", "\xed\xa0\x80 surrogate", "\uFFFD valid replacement", "\uFFFE\uFFFF noncharacters",
	"\U0010FFFF top", "日本語/ключ/🙂", "%2F already encoded", "]]>", "&amp;", "trailing \xe6\x97",
}

func listCases() []xmlAppender {
	own := &ownerXML{ID: "AKID&<>", DisplayName: "name\"'"}
	var cases []xmlAppender
	for i, s := range oddStrings {
		objs := []objectXML{
			{Key: s, LastModified: "2024-01-02T03:04:05.000Z", ETag: `"` + s + `"`, Size: int64(i) * 1e9, StorageClass: "STANDARD"},
			{Key: s + "/2", LastModified: s, ETag: "", Size: -1, Owner: own, StorageClass: s},
		}
		cps := []prefixXML{{Prefix: s}, {Prefix: s + "/"}}
		cases = append(cases,
			listV1Result{Name: s, Prefix: s, Marker: s, NextMarker: s, MaxKeys: i, Delimiter: s, EncodingType: s,
				IsTruncated: i%2 == 0, Contents: objs, CommonPrefixes: cps},
			listV2Result{Name: s, Prefix: s, KeyCount: i, MaxKeys: 1000, Delimiter: s, EncodingType: s, IsTruncated: i%2 == 1,
				ContinuationToken: s, NextContinuationToken: s, StartAfter: s, Contents: objs, CommonPrefixes: cps},
		)
	}
	cases = append(cases, listV1Result{}, listV2Result{}, listV2Result{Contents: []objectXML{}, CommonPrefixes: []prefixXML{}})
	return cases
}

func TestListXMLMatchesEncodingXML(t *testing.T) {
	for i, c := range listCases() {
		want, got := stdXML(t, c), appended(c)
		if !bytes.Equal(got, want) {
			t.Errorf("case %d (%T):\n got %q\nwant %q", i, c, got, want)
		}
	}
}

// TestListXMLRoundTrip decodes a hand-encoded page back into its struct.
func TestListXMLRoundTrip(t *testing.T) {
	in := listV2Result{Name: "b", Prefix: "p/", KeyCount: 2, MaxKeys: 2, IsTruncated: true, NextContinuationToken: "tok",
		Contents:       []objectXML{{Key: "p/a&b", LastModified: "2024-01-02T03:04:05.000Z", ETag: `"e"`, Size: 3, StorageClass: "STANDARD"}},
		CommonPrefixes: []prefixXML{{Prefix: "p/<d>/"}}}
	var out listV2Result
	if err := xml.Unmarshal(appended(in), &out); err != nil {
		t.Fatal(err)
	}
	out.XMLName = xml.Name{}
	if fmt.Sprint(out) != fmt.Sprint(in) {
		t.Errorf("round trip:\n got %+v\nwant %+v", out, in)
	}
}

func FuzzListXML(f *testing.F) {
	for _, s := range oddStrings {
		f.Add(s, s+"x")
	}
	f.Fuzz(func(t *testing.T, key, prefix string) {
		own := &ownerXML{ID: prefix, DisplayName: key}
		c := listV1Result{Name: prefix, Prefix: prefix, Marker: key, NextMarker: key, Delimiter: prefix,
			Contents:       []objectXML{{Key: key, LastModified: prefix, ETag: key, Size: 1, Owner: own, StorageClass: prefix}},
			CommonPrefixes: []prefixXML{{Prefix: prefix}}}
		if want, got := stdXML(t, c), appended(c); !bytes.Equal(got, want) {
			t.Fatalf("v1:\n got %q\nwant %q", got, want)
		}
		c2 := listV2Result{Name: key, Prefix: prefix, StartAfter: key, ContinuationToken: prefix, NextContinuationToken: key,
			Contents: c.Contents, CommonPrefixes: c.CommonPrefixes}
		if want, got := stdXML(t, c2), appended(c2); !bytes.Equal(got, want) {
			t.Fatalf("v2:\n got %q\nwant %q", got, want)
		}
	})
}

// BenchmarkListXML encodes a page of 1,000 objects both ways.
func BenchmarkListXML(b *testing.B) {
	page := listV2Result{Name: "bucket", MaxKeys: 1000, KeyCount: 1000, IsTruncated: true, NextContinuationToken: "dG9rZW4"}
	for i := range 1000 {
		page.Contents = append(page.Contents, objectXML{Key: fmt.Sprintf("dir%02d/key%06d", i%20, i),
			LastModified: "2024-01-02T03:04:05.000Z", ETag: `"d41d8cd98f00b204e9800998ecf8427e"`, Size: 4096, StorageClass: "STANDARD"})
	}
	b.Run("encoding-xml", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			stdXML(b, page)
		}
	})
	b.Run("appendXML", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			page.appendXML(make([]byte, 0, page.sizeHint()))
		}
	})
}

func TestXMLTime(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	times := []time.Time{{}, time.Unix(0, 0), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 2, 29, 12, 0, 0, 1e6-1, time.FixedZone("x", -7*3600))}
	for range 1000 {
		times = append(times, time.Unix(r.Int64N(1<<34)-1<<33, r.Int64N(1e9)).In(time.FixedZone("y", int(r.Int64N(86400))-43200)))
	}
	for _, tm := range times {
		if got, want := xmlTime(tm), tm.UTC().Format("2006-01-02T15:04:05.000Z"); got != want {
			t.Errorf("xmlTime(%v) = %q, want %q", tm, got, want)
		}
	}
}
