package s3api

import (
	"strconv"
	"unicode/utf8"
)

// Hand-written encoders for the listing documents, whose pages of 1,000
// entries dominate a listing's server time under encoding/xml's
// reflection. Their output is byte for byte what encoding/xml produces for
// the same structs (xml_list_test.go checks that), so clients see no
// difference.

// xmlAppender is a response document that encodes itself.
type xmlAppender interface {
	appendXML(b []byte) []byte
	sizeHint() int // about how many bytes appendXML adds
}

var (
	_ xmlAppender = listV1Result{}
	_ xmlAppender = listV2Result{}
)

const listResultOpen = `<ListBucketResult xmlns="` + s3NS + `">`

// listSizeHint is about the size of a listing document: a fixed part and
// an entry per object or common prefix.
func listSizeHint(objects, prefixes int) int { return 512 + 256*objects + 64*prefixes }

func (r listV1Result) sizeHint() int { return listSizeHint(len(r.Contents), len(r.CommonPrefixes)) }
func (r listV2Result) sizeHint() int { return listSizeHint(len(r.Contents), len(r.CommonPrefixes)) }

func (r listV1Result) appendXML(b []byte) []byte {
	b = append(b, listResultOpen...)
	b = appendElem(b, "Name", r.Name)
	b = appendElem(b, "Prefix", r.Prefix)
	b = appendElem(b, "Marker", r.Marker)
	b = appendElemOmit(b, "NextMarker", r.NextMarker)
	b = appendIntElem(b, "MaxKeys", int64(r.MaxKeys))
	b = appendElemOmit(b, "Delimiter", r.Delimiter)
	b = appendElemOmit(b, "EncodingType", r.EncodingType)
	b = appendBoolElem(b, "IsTruncated", r.IsTruncated)
	b = appendObjects(b, r.Contents)
	b = appendPrefixes(b, r.CommonPrefixes)
	return append(b, "</ListBucketResult>"...)
}

func (r listV2Result) appendXML(b []byte) []byte {
	b = append(b, listResultOpen...)
	b = appendElem(b, "Name", r.Name)
	b = appendElem(b, "Prefix", r.Prefix)
	b = appendIntElem(b, "KeyCount", int64(r.KeyCount))
	b = appendIntElem(b, "MaxKeys", int64(r.MaxKeys))
	b = appendElemOmit(b, "Delimiter", r.Delimiter)
	b = appendElemOmit(b, "EncodingType", r.EncodingType)
	b = appendBoolElem(b, "IsTruncated", r.IsTruncated)
	b = appendElemOmit(b, "ContinuationToken", r.ContinuationToken)
	b = appendElemOmit(b, "NextContinuationToken", r.NextContinuationToken)
	b = appendElemOmit(b, "StartAfter", r.StartAfter)
	b = appendObjects(b, r.Contents)
	b = appendPrefixes(b, r.CommonPrefixes)
	return append(b, "</ListBucketResult>"...)
}

func appendObjects(b []byte, objs []objectXML) []byte {
	for i := range objs {
		o := &objs[i]
		b = append(b, "<Contents>"...)
		b = appendElem(b, "Key", o.Key)
		b = appendElem(b, "LastModified", o.LastModified)
		b = appendElem(b, "ETag", o.ETag)
		b = appendIntElem(b, "Size", o.Size)
		if o.Owner != nil {
			b = append(b, "<Owner>"...)
			b = appendElem(b, "ID", o.Owner.ID)
			b = appendElem(b, "DisplayName", o.Owner.DisplayName)
			b = append(b, "</Owner>"...)
		}
		b = appendElem(b, "StorageClass", o.StorageClass)
		b = append(b, "</Contents>"...)
	}
	return b
}

func appendPrefixes(b []byte, ps []prefixXML) []byte {
	for _, p := range ps {
		b = append(b, "<CommonPrefixes>"...)
		b = appendElem(b, "Prefix", p.Prefix)
		b = append(b, "</CommonPrefixes>"...)
	}
	return b
}

// appendElem appends <name>text</name>, the text escaped.
func appendElem(b []byte, name, text string) []byte {
	b = append(b, '<')
	b = append(b, name...)
	b = append(b, '>')
	b = appendEscaped(b, text)
	b = append(b, "</"...)
	b = append(b, name...)
	return append(b, '>')
}

// appendElemOmit is appendElem, or nothing for empty text (omitempty).
func appendElemOmit(b []byte, name, text string) []byte {
	if text == "" {
		return b
	}
	return appendElem(b, name, text)
}

func appendIntElem(b []byte, name string, v int64) []byte {
	b = append(b, '<')
	b = append(b, name...)
	b = append(b, '>')
	b = strconv.AppendInt(b, v, 10)
	b = append(b, "</"...)
	b = append(b, name...)
	return append(b, '>')
}

func appendBoolElem(b []byte, name string, v bool) []byte {
	b = append(b, '<')
	b = append(b, name...)
	b = append(b, '>')
	b = strconv.AppendBool(b, v)
	b = append(b, "</"...)
	b = append(b, name...)
	return append(b, '>')
}

// appendEscaped appends s escaped as encoding/xml escapes character data
// (EscapeString): the five markup characters and tab, newline and
// carriage return as references, and invalid UTF-8 or characters outside
// XML's range as U+FFFD.
func appendEscaped(b []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		if !xmlSpecial[c] {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, width := utf8.DecodeRuneInString(s[i:])
			i += width
			if isXMLChar(r) && (r != utf8.RuneError || width > 1) {
				continue
			}
			b = append(b, s[last:i-width]...)
			b = append(b, "\uFFFD"...)
			last = i
			continue
		}
		i++
		b = append(b, s[last:i-1]...)
		b = append(b, xmlEscapes[c]...)
		last = i
	}
	return append(b, s[last:]...)
}

// xmlSpecial marks the bytes appendEscaped must look at: markup
// characters, control characters and the bytes of multi-byte UTF-8.
// xmlEscapes holds the replacement of each special ASCII byte.
var xmlSpecial, xmlEscapes = func() (sp [256]bool, esc [128]string) {
	for c := range 256 {
		sp[c] = c < 0x20 || c >= utf8.RuneSelf
	}
	for c := range 0x20 {
		esc[c] = "\uFFFD" // a control character XML cannot carry
	}
	for c, e := range map[byte]string{'"': "&#34;", '\'': "&#39;", '&': "&amp;", '<': "&lt;", '>': "&gt;",
		'\t': "&#x9;", '\n': "&#xA;", '\r': "&#xD;"} {
		sp[c], esc[c] = true, e
	}
	return sp, esc
}()

// isXMLChar reports whether r is in XML 1.0's character range.
func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}
