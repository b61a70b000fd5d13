package s3api

import (
	"errors"
	"strings"
	"testing"
)

func TestValidBucketName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"abc", true},
		{"my-bucket.v2", true},
		{"a1-2.3", true},
		{"123", true},
		{strings.Repeat("a", 63), true},
		{"1.2.3", true},
		{"ab", false},
		{strings.Repeat("a", 64), false},
		{"MyBucket", false},
		{"my_bucket", false},
		{"-abc", false},
		{"abc-", false},
		{".abc", false},
		{"abc.", false},
		{"a..b", false},
		{"192.168.5.4", false},
		{"1.2.3.4", false},
		{"a b", false},
		{"xn--abc", false},
		{"sthree-abc", false},
		{"abc-s3alias", false},
		{"abc--ol-s3", false},
		{"abc--x-s3", false},
		{"abc.mrap", false},
		{"buck\xffet", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := ValidBucketName(tt.name); got != tt.ok {
			t.Errorf("ValidBucketName(%q) = %v, want %v", tt.name, got, tt.ok)
		}
		err := checkBucket(tt.name)
		if tt.ok != (err == nil) || (err != nil && !errors.Is(err, ErrInvalidBucketName)) {
			t.Errorf("checkBucket(%q) = %v", tt.name, err)
		}
	}
}

func TestCheckKey(t *testing.T) {
	tests := []struct {
		key  string
		want error
	}{
		{"a", nil},
		{"../../etc/passwd", nil},
		{"sp ace+plus%25/é/日本", nil},
		{strings.Repeat("k", MaxKeyLength), nil},
		{strings.Repeat("é", MaxKeyLength/2), nil},
		{strings.Repeat("k", MaxKeyLength+1), ErrKeyTooLong},
		{"bad\xffutf8", ErrInvalidURI},
		{"", ErrInvalidArgument},
	}
	for _, tt := range tests {
		if err := checkKey(tt.key); !opsSameError(err, tt.want) {
			t.Errorf("checkKey(%.20q) = %v, want %v", tt.key, err, tt.want)
		}
	}
}
