package s3api

import (
	"strings"
	"unicode/utf8"
)

// MaxKeyLength is the longest object key S3 accepts, in bytes of UTF-8.
const MaxKeyLength = 1024

// ValidBucketName reports whether name follows the S3 bucket naming rules:
// 3 to 63 characters of lower-case letters, digits, '.' and '-', starting and
// ending with a letter or digit, no "..", not an IP address, and none of the
// prefixes and suffixes S3 reserves.
func ValidBucketName(name string) bool {
	if len(name) < 3 || len(name) > 63 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case c == '.' || c == '-':
			if i == 0 || i == len(name)-1 {
				return false
			}
		default:
			return false
		}
	}
	if strings.Contains(name, "..") {
		return false
	}
	if looksLikeIPv4(name) {
		return false
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(name, p) {
			return false
		}
	}
	for _, s := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(name, s) {
			return false
		}
	}
	return true
}

// looksLikeIPv4 reports whether s has the form of a dotted-quad address
// (four groups of digits), which S3 refuses as a bucket name.
func looksLikeIPv4(s string) bool {
	groups := strings.Split(s, ".")
	if len(groups) != 4 {
		return false
	}
	for _, g := range groups {
		if g == "" || strings.Trim(g, "0123456789") != "" {
			return false
		}
	}
	return true
}

// checkBucket returns InvalidBucketName for a bad bucket name.
func checkBucket(name string) error {
	if !ValidBucketName(name) {
		return ErrInvalidBucketName.WithResource(name)
	}
	return nil
}

// checkKey returns KeyTooLongError, InvalidURI (a key that is not UTF-8)
// or InvalidArgument for a key S3 refuses.
func checkKey(key string) error {
	switch {
	case key == "":
		return ErrInvalidArgument.WithMessage("Object key must not be empty.")
	case len(key) > MaxKeyLength:
		return ErrKeyTooLong
	case !utf8.ValidString(key):
		return ErrInvalidURI.WithMessage("Couldn't parse the specified URI: the object key is not valid UTF-8.")
	}
	return nil
}
