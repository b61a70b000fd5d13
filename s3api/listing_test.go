package s3api

import (
	"errors"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func TestAWSURLEncode(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"a b", "a%20b"},
		{"a+b", "a%2Bb"},
		{"dir/sub/file.txt", "dir/sub/file.txt"},
		{"-_.~", "-_.~"},
		{"é", "%C3%A9"},
		{"日本", "%E6%97%A5%E6%9C%AC"},
		{"100%", "100%25"},
		{"a&b=c?d#e", "a%26b%3Dc%3Fd%23e"},
		{"../x", "../x"},
		{"tab\tnl\n", "tab%09nl%0A"},
		{"*'()!", "%2A%27%28%29%21"},
		{"", ""},
	}
	for _, tt := range tests {
		got := awsURLEncode(tt.in)
		if got != tt.want {
			t.Errorf("awsURLEncode(%q) = %q, want %q", tt.in, got, tt.want)
		}
		// Clients decode with a URL decoder: the encoding must round-trip.
		dec, err := url.PathUnescape(got)
		if err != nil || dec != tt.in {
			t.Errorf("PathUnescape(%q) = %q, %v; want %q", got, dec, err, tt.in)
		}
		if dec, err := url.QueryUnescape(got); err != nil || dec != tt.in {
			t.Errorf("QueryUnescape(%q) = %q, %v; want %q", got, dec, err, tt.in)
		}
	}
}

func opsObjs(keys ...string) []ObjectInfo {
	sort.Strings(keys)
	out := make([]ObjectInfo, len(keys))
	for i, k := range keys {
		out[i] = ObjectInfo{Key: k}
	}
	return out
}

func opsKeys(o []ObjectInfo) []string {
	var out []string
	for _, x := range o {
		out = append(out, x.Key)
	}
	return out
}

func TestListPage(t *testing.T) {
	all := opsObjs("a", "a/1", "a/2", "a/b/1", "b", "b/1", "c+d", "c d", "photos/2024/x.jpg",
		"photos/2025/y.jpg", "photos/z.jpg", "\xff\xff", "\xff\xffz")
	tests := []struct {
		name       string
		in         ListObjectsInput
		wantKeys   []string
		wantCPs    []string
		truncated  bool
		wantCursor string
	}{
		{"all", ListObjectsInput{MaxKeys: 1000}, opsKeys(all), nil, false, "\xff\xffz"},
		{"delimiter at root", ListObjectsInput{Delimiter: "/", MaxKeys: 1000},
			[]string{"a", "b", "c d", "c+d", "\xff\xff", "\xff\xffz"}, []string{"a/", "b/", "photos/"}, false, "\xff\xffz"},
		{"prefix and delimiter", ListObjectsInput{Prefix: "photos/", Delimiter: "/", MaxKeys: 1000},
			[]string{"photos/z.jpg"}, []string{"photos/2024/", "photos/2025/"}, false, "photos/z.jpg"},
		{"prefix without delimiter", ListObjectsInput{Prefix: "a/", MaxKeys: 1000},
			[]string{"a/1", "a/2", "a/b/1"}, nil, false, "a/b/1"},
		{"truncated counts prefixes", ListObjectsInput{Delimiter: "/", MaxKeys: 3},
			[]string{"a", "b"}, []string{"a/"}, true, "b"},
		{"after a common prefix skips it", ListObjectsInput{Delimiter: "/", After: "a/", MaxKeys: 2},
			[]string{"b"}, []string{"b/"}, true, "b/"},
		{"after inside a group lists the group again", ListObjectsInput{Delimiter: "/", After: "a/1", MaxKeys: 1000},
			[]string{"b", "c d", "c+d", "\xff\xff", "\xff\xffz"}, []string{"a/", "b/", "photos/"}, false, "\xff\xffz"},
		{"after plain key", ListObjectsInput{After: "b/1", MaxKeys: 2},
			[]string{"c d", "c+d"}, nil, true, "c+d"},
		{"after before prefix", ListObjectsInput{Prefix: "photos/", After: "a", MaxKeys: 1},
			[]string{"photos/2024/x.jpg"}, nil, true, "photos/2024/x.jpg"},
		{"after beyond prefix", ListObjectsInput{Prefix: "a/", After: "b", MaxKeys: 10}, nil, nil, false, ""},
		{"max keys zero", ListObjectsInput{MaxKeys: 0}, nil, nil, false, ""},
		{"exact fit is not truncated", ListObjectsInput{Prefix: "a/", MaxKeys: 3},
			[]string{"a/1", "a/2", "a/b/1"}, nil, false, "a/b/1"},
		{"multi-char delimiter", ListObjectsInput{Delimiter: "/2", MaxKeys: 1000},
			[]string{"a", "a/1", "a/b/1", "b", "b/1", "c d", "c+d", "photos/z.jpg", "\xff\xff", "\xff\xffz"},
			[]string{"a/2", "photos/2"}, false, "\xff\xffz"},
		{"all-0xff common prefix ends the listing", ListObjectsInput{Delimiter: "\xff", MaxKeys: 1000},
			[]string{"a", "a/1", "a/2", "a/b/1", "b", "b/1", "c d", "c+d", "photos/2024/x.jpg", "photos/2025/y.jpg", "photos/z.jpg"},
			[]string{"\xff"}, false, "\xff"},
		{"after all-0xff common prefix", ListObjectsInput{Delimiter: "\xff", After: "\xff", MaxKeys: 10}, nil, nil, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := ListPage(NewSliceIterator(all), tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := opsKeys(out.Objects); !reflect.DeepEqual(got, tt.wantKeys) {
				t.Errorf("keys = %q, want %q", got, tt.wantKeys)
			}
			if !reflect.DeepEqual(out.CommonPrefixes, tt.wantCPs) {
				t.Errorf("prefixes = %q, want %q", out.CommonPrefixes, tt.wantCPs)
			}
			if out.IsTruncated != tt.truncated || out.NextAfter != tt.wantCursor {
				t.Errorf("truncated, next = %v, %q; want %v, %q", out.IsTruncated, out.NextAfter, tt.truncated, tt.wantCursor)
			}
		})
	}
}

// TestListPagePaging walks every page size over keys with delimiters and
// checks that the pages join into exactly the unpaged listing.
func TestListPagePaging(t *testing.T) {
	var keys []string
	for _, d := range []string{"x/", "y/", "z/", ""} {
		for i := 0; i < 7; i++ {
			keys = append(keys, d+strings.Repeat("k", i+1))
		}
	}
	all := opsObjs(keys...)
	for _, delim := range []string{"", "/"} {
		full, err := ListPage(NewSliceIterator(all), ListObjectsInput{Delimiter: delim, MaxKeys: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for size := 1; size <= 12; size++ {
			var gotKeys, gotCPs []string
			in := ListObjectsInput{Delimiter: delim, MaxKeys: size}
			for page := 0; ; page++ {
				if page > len(keys) {
					t.Fatalf("delimiter %q size %d: no end after %d pages", delim, size, page)
				}
				out, err := ListPage(NewSliceIterator(all), in)
				if err != nil {
					t.Fatal(err)
				}
				if n := len(out.Objects) + len(out.CommonPrefixes); n > size || (out.IsTruncated && n != size) {
					t.Fatalf("page of %d entries with max %d, truncated %v", n, size, out.IsTruncated)
				}
				gotKeys = append(gotKeys, opsKeys(out.Objects)...)
				gotCPs = append(gotCPs, out.CommonPrefixes...)
				if !out.IsTruncated {
					break
				}
				in.After = out.NextAfter
			}
			if !reflect.DeepEqual(gotKeys, opsKeys(full.Objects)) || !reflect.DeepEqual(gotCPs, full.CommonPrefixes) {
				t.Errorf("delimiter %q size %d: paged %q %q, want %q %q", delim, size,
					gotKeys, gotCPs, opsKeys(full.Objects), full.CommonPrefixes)
			}
		}
	}
}

type failingIterator struct{ SliceIterator }

var opsErrIter = errors.New("iterator broke")

func (failingIterator) Error() error { return opsErrIter }

func TestListPageIteratorError(t *testing.T) {
	it := &failingIterator{*NewSliceIterator(opsObjs("a"))}
	if _, err := ListPage(it, ListObjectsInput{MaxKeys: 5}); !errors.Is(err, opsErrIter) {
		t.Fatalf("err = %v, want the iterator's error", err)
	}
}

func TestContinuationToken(t *testing.T) {
	for _, k := range []string{"a", "dir/", "sp ace+plus/é", strings.Repeat("z", MaxKeyLength)} {
		got, err := decodeToken(encodeToken(k))
		if err != nil || got != k {
			t.Errorf("token round trip of %q = %q, %v", k, got, err)
		}
	}
	for _, bad := range []string{"", "!!!", "a b", encodeToken(strings.Repeat("z", MaxKeyLength+1))} {
		if _, err := decodeToken(bad); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("decodeToken(%q) err = %v, want InvalidArgument", bad, err)
		}
	}
}

func TestPageUploads(t *testing.T) {
	ups := []UploadInfo{
		{Key: "b", UploadID: "2"}, {Key: "a", UploadID: "1"}, {Key: "b", UploadID: "1"},
		{Key: "d/1", UploadID: "1"}, {Key: "d/2", UploadID: "1"}, {Key: "e", UploadID: "9"},
	}
	ids := func(p uploadPage) []string {
		var out []string
		for _, u := range p.uploads {
			out = append(out, u.Key+"#"+u.UploadID)
		}
		return out
	}
	p := pageUploads(ups, "", "", "", "", 1000)
	if got, want := ids(p), []string{"a#1", "b#1", "b#2", "d/1#1", "d/2#1", "e#9"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("all = %q, want %q", got, want)
	}
	p = pageUploads(ups, "", "/", "b", "1", 2)
	if got, want := ids(p), []string{"b#2"}; !reflect.DeepEqual(got, want) || !reflect.DeepEqual(p.prefixes, []string{"d/"}) {
		t.Fatalf("after b#1 = %q %q", got, p.prefixes)
	}
	if !p.truncated || p.nextKey != "d/" || p.nextID != "" {
		t.Fatalf("truncated %v next %q %q", p.truncated, p.nextKey, p.nextID)
	}
	p = pageUploads(ups, "", "/", p.nextKey, p.nextID, 2)
	if got, want := ids(p), []string{"e#9"}; !reflect.DeepEqual(got, want) || p.truncated || len(p.prefixes) != 0 {
		t.Fatalf("after d/ = %q %q truncated %v", got, p.prefixes, p.truncated)
	}
}
