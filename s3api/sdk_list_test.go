package s3api

import (
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// listFixture fills a bucket with 2,500 keys under three directories plus
// a few at the top, and returns all keys in byte order.
func listFixture(t *testing.T, e *sdkEnv) (string, []string) {
	b := e.bucket(t, "many")
	var keys []string
	for i := 0; i < 2500; i++ {
		keys = append(keys, fmt.Sprintf("dir%d/file-%04d", i%3, i))
	}
	keys = append(keys, "top-a", "top b", "top+c", "dir0")
	for _, k := range keys {
		e.mem.put(b, k, []byte(k))
	}
	sort.Strings(keys)
	return b, keys
}

func TestSDKListObjectsV2Pagination(t *testing.T) {
	e := newSDKEnv(t, sdkEnvOptions{})
	ctx := t.Context()
	b, keys := listFixture(t, e)

	var got []string
	var sizes []int
	p := s3.NewListObjectsV2Paginator(e.c, &s3.ListObjectsV2Input{Bucket: &b})
	for pages := 0; p.HasMorePages(); pages++ {
		if pages > 10 {
			t.Fatal("paginator does not end")
		}
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(out.Contents))
		if aws.ToInt32(out.KeyCount) != int32(len(out.Contents)) || aws.ToInt32(out.MaxKeys) != 1000 {
			t.Fatalf("KeyCount %d MaxKeys %d for %d keys", aws.ToInt32(out.KeyCount), aws.ToInt32(out.MaxKeys), len(out.Contents))
		}
		for _, o := range out.Contents {
			got = append(got, aws.ToString(o.Key))
			if o.Owner != nil {
				t.Fatal("owner without fetch-owner")
			}
			if aws.ToInt64(o.Size) != int64(len(aws.ToString(o.Key))) || aws.ToString(o.ETag) != opsQuotedMD5([]byte(aws.ToString(o.Key))) ||
				o.StorageClass != types.ObjectStorageClassStandard {
				t.Fatalf("entry %+v", o)
			}
		}
	}
	if !reflect.DeepEqual(sizes, []int{1000, 1000, 504}) || !reflect.DeepEqual(got, keys) {
		t.Fatalf("pages %v; %d keys listed, want %d in byte order", sizes, len(got), len(keys))
	}

	// Delimiter at the top: three common prefixes and the loose keys.
	out, err := e.c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &b, Delimiter: aws.String("/"), FetchOwner: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	var cps, top []string
	for _, cp := range out.CommonPrefixes {
		cps = append(cps, aws.ToString(cp.Prefix))
	}
	for _, o := range out.Contents {
		top = append(top, aws.ToString(o.Key))
		if o.Owner == nil || aws.ToString(o.Owner.ID) != opsAccessKey {
			t.Fatalf("fetch-owner: owner %+v", o.Owner)
		}
	}
	if !reflect.DeepEqual(cps, []string{"dir0/", "dir1/", "dir2/"}) || !reflect.DeepEqual(top, []string{"dir0", "top b", "top+c", "top-a"}) ||
		aws.ToInt32(out.KeyCount) != 7 || aws.ToBool(out.IsTruncated) {
		t.Fatalf("prefixes %q keys %q count %d", cps, top, aws.ToInt32(out.KeyCount))
	}

	// Prefix + delimiter + small pages via the paginator, and start-after.
	got = nil
	p = s3.NewListObjectsV2Paginator(e.c, &s3.ListObjectsV2Input{Bucket: &b, Prefix: aws.String("dir1/"), Delimiter: aws.String("/"), StartAfter: aws.String("dir1/file-1000"), MaxKeys: aws.Int32(97)})
	for pages := 0; p.HasMorePages(); pages++ {
		if pages > 20 {
			t.Fatal("paginator does not end")
		}
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(out.Prefix) != "dir1/" || aws.ToString(out.StartAfter) != "dir1/file-1000" {
			t.Fatalf("echoed prefix %q start-after %q", aws.ToString(out.Prefix), aws.ToString(out.StartAfter))
		}
		for _, o := range out.Contents {
			got = append(got, aws.ToString(o.Key))
		}
	}
	var want []string
	for _, k := range keys {
		if strings.HasPrefix(k, "dir1/") && k > "dir1/file-1000" {
			want = append(want, k)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("dir1 after file-1000: %d keys, want %d", len(got), len(want))
	}

	// max-keys: 0 gives nothing; more than 1000 is capped; negative is refused.
	out, err = e.c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &b, MaxKeys: aws.Int32(0)})
	if err != nil || len(out.Contents) != 0 || aws.ToInt32(out.KeyCount) != 0 {
		t.Fatalf("max-keys 0: %d keys %v", len(out.Contents), err)
	}
	out, err = e.c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &b, MaxKeys: aws.Int32(5000)})
	if err != nil || len(out.Contents) != 1000 || aws.ToInt32(out.MaxKeys) != 1000 || !aws.ToBool(out.IsTruncated) {
		t.Fatalf("max-keys 5000: %d keys, MaxKeys %d, %v", len(out.Contents), aws.ToInt32(out.MaxKeys), err)
	}
	_, err = e.c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &b, MaxKeys: aws.Int32(-1)})
	wantS3Code(t, err, "InvalidArgument")
	_, err = e.c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &b, ContinuationToken: aws.String("not a token!")})
	wantS3Code(t, err, "InvalidArgument")
	for _, q := range []string{"list-type=2&max-keys=abc", "max-keys=1.5", "list-type=2&encoding-type=base64", "list-type=3"} {
		resp := e.raw(t, http.MethodGet, "/many?"+q, nil, nil)
		if resp.StatusCode != http.StatusBadRequest || opsErrorCode(t, resp) != "InvalidArgument" {
			t.Fatalf("%s: status %d", q, resp.StatusCode)
		}
	}
}

func TestSDKListObjectsV1(t *testing.T) {
	e := newSDKEnv(t, sdkEnvOptions{})
	ctx := t.Context()
	b, keys := listFixture(t, e)
	// rclone pages v1 with the marker: NextMarker when there is a
	// delimiter, else the last key.
	for _, delim := range []string{"", "/"} {
		pageSize := int32(700)
		if delim != "" {
			pageSize = 2 // pages end on common prefixes too
		}
		var got []string
		marker := ""
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatal("v1 listing does not end")
			}
			out, err := e.c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: &b, Marker: aws.String(marker), Delimiter: aws.String(delim), MaxKeys: aws.Int32(pageSize)})
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToString(out.Marker) != marker {
				t.Fatalf("marker echoed %q, want %q", aws.ToString(out.Marker), marker)
			}
			for _, o := range out.Contents {
				got = append(got, aws.ToString(o.Key))
				if o.Owner == nil {
					t.Fatal("v1 entries carry the owner")
				}
			}
			for _, cp := range out.CommonPrefixes {
				got = append(got, aws.ToString(cp.Prefix))
			}
			if !aws.ToBool(out.IsTruncated) {
				break
			}
			if delim != "" {
				marker = aws.ToString(out.NextMarker)
			} else {
				if out.NextMarker != nil {
					t.Fatal("NextMarker without a delimiter")
				}
				marker = got[len(got)-1]
			}
		}
		sort.Strings(got)
		want := keys
		if delim != "" {
			want = []string{"dir0", "dir0/", "dir1/", "dir2/", "top b", "top+c", "top-a"}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("delimiter %q: %d entries, want %d", delim, len(got), len(want))
		}
	}
	// s3cmd: ListObjects v1 with no query at all, and empty elements.
	resp := e.raw(t, http.MethodGet, "/many", nil, nil)
	body := string(opsReadAll(t, resp.Body))
	for _, want := range []string{"<Prefix></Prefix>", "<Marker></Marker>", "<MaxKeys>1000</MaxKeys>", "<IsTruncated>true</IsTruncated>"} {
		if !strings.Contains(body, want) {
			t.Fatalf("v1 document lacks %s", want)
		}
	}
}

func TestSDKListEncoding(t *testing.T) {
	e := newSDKEnv(t, sdkEnvOptions{})
	ctx := t.Context()
	b := e.bucket(t, "enc")
	keys := []string{"a b/c+d", "a b/é", "a b/x%y", "plain/z", "sp ace", "q?&=#"}
	for _, k := range keys {
		e.mem.put(b, k, nil)
	}
	out, err := e.c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &b, EncodingType: types.EncodingTypeUrl, Delimiter: aws.String("/"), Prefix: aws.String("")})
	if err != nil {
		t.Fatal(err)
	}
	var raw []string
	for _, cp := range out.CommonPrefixes {
		raw = append(raw, aws.ToString(cp.Prefix))
	}
	for _, o := range out.Contents {
		raw = append(raw, aws.ToString(o.Key))
	}
	if want := []string{"a%20b/", "plain/", "q%3F%26%3D%23", "sp%20ace"}; !reflect.DeepEqual(raw, want) {
		t.Fatalf("encoded names %q, want %q", raw, want)
	}
	if out.EncodingType != types.EncodingTypeUrl {
		t.Fatalf("EncodingType %q", out.EncodingType)
	}
	out, err = e.c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &b, EncodingType: types.EncodingTypeUrl, Prefix: aws.String("a b/")})
	if err != nil {
		t.Fatal(err)
	}
	raw = nil
	for _, o := range out.Contents {
		raw = append(raw, aws.ToString(o.Key))
	}
	if want := []string{"a%20b/c%2Bd", "a%20b/x%25y", "a%20b/%C3%A9"}; !reflect.DeepEqual(raw, want) || aws.ToString(out.Prefix) != "a%20b/" {
		t.Fatalf("encoded keys %q prefix %q, want %q", raw, aws.ToString(out.Prefix), want)
	}
	// v1 encodes the marker too.
	v1, err := e.c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: &b, EncodingType: types.EncodingTypeUrl, Marker: aws.String("a b/c+d"), MaxKeys: aws.Int32(1), Delimiter: aws.String("+")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(v1.Marker) != "a%20b/c%2Bd" || aws.ToString(v1.Delimiter) != "%2B" || aws.ToString(v1.NextMarker) != "a%20b/x%25y" {
		t.Fatalf("v1 marker %q delimiter %q next %q", aws.ToString(v1.Marker), aws.ToString(v1.Delimiter), aws.ToString(v1.NextMarker))
	}
}
