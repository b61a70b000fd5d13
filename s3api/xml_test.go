package s3api

import (
	"encoding/xml"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestParseDelete(t *testing.T) {
	good := `<?xml version="1.0" encoding="UTF-8"?>
<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>true</Quiet>
<Object><Key>a b+c</Key></Object><Object><Key>&lt;x&gt;/é</Key><VersionId>null</VersionId></Object></Delete>
<!-- trailing comment -->
`
	d, err := parseDelete([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	want := deleteRequest{Quiet: true, Objects: []deleteObjectID{{Key: "a b+c"}, {Key: "<x>/é", VersionID: "null"}}}
	if !reflect.DeepEqual(d, want) {
		t.Fatalf("got %+v, want %+v", d, want)
	}
	var many strings.Builder
	many.WriteString("<Delete>")
	for i := 0; i <= maxDeleteKeys; i++ {
		fmt.Fprintf(&many, "<Object><Key>k%d</Key></Object>", i)
	}
	many.WriteString("</Delete>")
	bad := []string{
		"",
		"<Delete></Delete>",
		"<Delete><Object></Object></Delete>",
		"<Delete><Object><Key>a</Key></Object>",
		"<Delete><Object><Key>a</Key></Object></Delete><Delete/>",
		"<Delete><Object><Key>a</Key></Object></Delete>junk",
		"<Remove><Object><Key>a</Key></Object></Remove>",
		"<Delete><Quiet>maybe</Quiet><Object><Key>a</Key></Object></Delete>",
		"<Delete><Object><Key>a</Key></Object></Delete",
		many.String(),
	}
	for _, b := range bad {
		if _, err := parseDelete([]byte(b)); !errors.Is(err, ErrMalformedXML) {
			t.Errorf("parseDelete(%.60q) err = %v, want MalformedXML", b, err)
		}
	}
}

func TestParseComplete(t *testing.T) {
	good := `<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
<Part><ETag>"etag1"</ETag><PartNumber>1</PartNumber></Part>
<Part><PartNumber>2</PartNumber><ETag>etag2</ETag><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part>
</CompleteMultipartUpload>`
	c, err := parseComplete([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	want := completeRequest{Parts: []completePart{{PartNumber: 1, ETag: `"etag1"`}, {PartNumber: 2, ETag: "etag2", ChecksumCRC32: "AAAAAA=="}}}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got %+v, want %+v", c, want)
	}
	for _, b := range []string{
		"", "<CompleteMultipartUpload/>",
		"<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>e</ETag></Part></CompleteMultipartUpload>",
		"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>",
		"<Complete><Part><PartNumber>1</PartNumber><ETag>e</ETag></Part></Complete>",
	} {
		if _, err := parseComplete([]byte(b)); !errors.Is(err, ErrMalformedXML) {
			t.Errorf("parseComplete(%.60q) err = %v, want MalformedXML", b, err)
		}
	}
}

func TestParseCreateBucket(t *testing.T) {
	c, err := parseCreateBucket([]byte(`<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>`))
	if err != nil || c.LocationConstraint != "eu-west-1" {
		t.Fatalf("got %+v %v", c, err)
	}
	for _, b := range []string{"<CreateBucketConfiguration>", "<Other/>", "<CreateBucketConfiguration/><x/>"} {
		if _, err := parseCreateBucket([]byte(b)); !errors.Is(err, ErrMalformedXML) {
			t.Errorf("parseCreateBucket(%q) err = %v", b, err)
		}
	}
}

func TestResponseNamespace(t *testing.T) {
	b, err := xml.Marshal(listV2Result{Name: "b"})
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{`<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`, "<Prefix></Prefix>", "<KeyCount>0</KeyCount>"} {
		if !strings.Contains(s, want) {
			t.Errorf("%s lacks %s", s, want)
		}
	}
	b, _ = xml.Marshal(listV1Result{})
	if !strings.Contains(string(b), "<Marker></Marker>") {
		t.Errorf("v1 result lacks an empty Marker: %s", b)
	}
}

// The fuzzers check that the parsers never panic, accept only what they
// promise, and that what they accept survives a marshal/parse round trip.

func FuzzDeleteXML(f *testing.F) {
	f.Add([]byte(`<Delete><Quiet>true</Quiet><Object><Key>a</Key></Object></Delete>`))
	f.Add([]byte(`<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a&amp;b</Key><VersionId>v</VersionId></Object></Delete>`))
	f.Add([]byte(`<Delete><Object><Key></Key></Object></Delete>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := parseDelete(b)
		if err != nil {
			if !errors.Is(err, ErrMalformedXML) {
				t.Fatalf("error %v is not MalformedXML", err)
			}
			return
		}
		if len(d.Objects) == 0 || len(d.Objects) > maxDeleteKeys {
			t.Fatalf("accepted %d objects", len(d.Objects))
		}
		out, err := xml.Marshal(d)
		if err != nil {
			return // keys with characters XML cannot carry
		}
		again, err := parseDelete(out)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", out, err)
		}
		if !reflect.DeepEqual(d, again) && validXMLText(d) {
			t.Fatalf("round trip %+v -> %+v", d, again)
		}
	})
}

// validXMLText reports whether every key is text XML can carry unchanged
// (encoding/xml replaces invalid characters, and normalises "\r").
func validXMLText(d deleteRequest) bool {
	for _, o := range d.Objects {
		for _, s := range []string{o.Key, o.VersionID} {
			if strings.ContainsAny(s, "\r\uFFFD") {
				return false
			}
			for _, r := range s {
				if r < 0x20 && r != '\t' && r != '\n' {
					return false
				}
			}
		}
	}
	return true
}

func FuzzCompleteMultipartXML(f *testing.F) {
	f.Add([]byte(`<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"e"</ETag></Part></CompleteMultipartUpload>`))
	f.Add([]byte(`<CompleteMultipartUpload><Part><PartNumber>-3</PartNumber><ETag>x</ETag><ChecksumSHA256>y</ChecksumSHA256></Part></CompleteMultipartUpload>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseComplete(b)
		if err != nil {
			if !errors.Is(err, ErrMalformedXML) {
				t.Fatalf("error %v is not MalformedXML", err)
			}
			return
		}
		if len(c.Parts) == 0 || len(c.Parts) > MaxPartNumber {
			t.Fatalf("accepted %d parts", len(c.Parts))
		}
		parts := make([]CompletedPart, len(c.Parts))
		for i, p := range c.Parts {
			if p.ETag == "" {
				t.Fatal("accepted a part without ETag")
			}
			parts[i] = CompletedPart{PartNumber: p.PartNumber, ETag: p.ETag}
		}
		// Whatever was parsed, the validator must answer with an S3 error
		// or a result, never panic.
		if _, _, err := CompleteParts(parts, nil); err == nil {
			t.Fatal("completed against no stored parts")
		}
		out, err := xml.Marshal(c)
		if err != nil {
			return
		}
		again, err := parseComplete(out)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", out, err)
		}
		if len(again.Parts) != len(c.Parts) {
			t.Fatalf("round trip changed the part count: %d -> %d", len(c.Parts), len(again.Parts))
		}
		for i := range c.Parts {
			if again.Parts[i].PartNumber != c.Parts[i].PartNumber {
				t.Fatalf("round trip changed part %d number", i)
			}
		}
	})
}

func FuzzCreateBucketXML(f *testing.F) {
	f.Add([]byte(`<CreateBucketConfiguration><LocationConstraint>us-west-2</LocationConstraint></CreateBucketConfiguration>`))
	f.Add([]byte(`<CreateBucketConfiguration/>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseCreateBucket(b)
		if err != nil {
			if !errors.Is(err, ErrMalformedXML) {
				t.Fatalf("error %v is not MalformedXML", err)
			}
			return
		}
		out, err := xml.Marshal(c)
		if err != nil {
			return
		}
		again, err := parseCreateBucket(out)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", out, err)
		}
		if again.LocationConstraint != c.LocationConstraint && !strings.ContainsAny(c.LocationConstraint, "\r\uFFFD") {
			t.Fatalf("round trip %q -> %q", c.LocationConstraint, again.LocationConstraint)
		}
	})
}
