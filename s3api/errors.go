package s3api

import (
	"errors"
	"net/http"
)

// Error is the one S3 error type. Code is the S3 error code string that
// clients match on ("NoSuchKey"); Status is the HTTP status it travels with.
// Handlers and the Backend return *Error values; anything else that reaches
// the response writer becomes InternalError.
//
// The package-level Err* values are templates: compare with errors.Is, which
// matches by Code, so per-request copies made with WithMessage or
// WithResource still match their template.
type Error struct {
	Code     string // S3 error code, e.g. "NoSuchKey"
	Message  string // human-readable message
	Status   int    // HTTP status code
	Resource string // the bucket or object the error is about, if any
	// HeadersNotSigned names the x-amz-* headers a request carried unsigned
	// (lower case, ", "-separated) for ErrHeadersNotSigned, S3's
	// AccessDenied for headers the signature does not cover (unsigned.go).
	HeadersNotSigned string
}

func (e *Error) Error() string { return "s3api: " + e.Code + ": " + e.Message }

// Is reports whether target is an *Error with the same Code.
func (e *Error) Is(target error) bool {
	var t *Error
	if !errors.As(target, &t) {
		return false
	}
	return t.Code == e.Code
}

// WithMessage returns a copy of e with its message replaced.
func (e *Error) WithMessage(msg string) *Error {
	c := *e
	c.Message = msg
	return &c
}

// WithResource returns a copy of e naming the resource it is about.
func (e *Error) WithResource(res string) *Error {
	c := *e
	c.Resource = res
	return &c
}

func newErr(status int, code, msg string) *Error {
	return &Error{Code: code, Message: msg, Status: status}
}

// The S3 errors this package produces or that a Backend may return.
var (
	// Authentication and signing.
	ErrAccessDenied                      = newErr(http.StatusForbidden, "AccessDenied", "Access Denied.")
	ErrInvalidAccessKeyID                = newErr(http.StatusForbidden, "InvalidAccessKeyId", "The AWS access key ID you provided does not exist in our records.")
	ErrSignatureDoesNotMatch             = newErr(http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method.")
	ErrRequestTimeTooSkewed              = newErr(http.StatusForbidden, "RequestTimeTooSkewed", "The difference between the request time and the server's time is too large.")
	ErrAuthorizationHeaderMalformed      = newErr(http.StatusBadRequest, "AuthorizationHeaderMalformed", "The authorization header is malformed.")
	ErrAuthorizationQueryParametersError = newErr(http.StatusBadRequest, "AuthorizationQueryParametersError", "The authorization query parameters are malformed.")
	ErrMissingSecurityHeader             = newErr(http.StatusBadRequest, "MissingSecurityHeader", "Your request is missing a required header.")
	ErrExpiredToken                      = newErr(http.StatusBadRequest, "ExpiredToken", "The provided token has expired.")
	ErrHeadersNotSigned                  = newErr(http.StatusForbidden, "AccessDenied", "There were headers present in the request which were not signed")

	// Payload integrity.
	ErrXAmzContentSHA256Mismatch = newErr(http.StatusBadRequest, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.")
	ErrBadDigest                 = newErr(http.StatusBadRequest, "BadDigest", "The Content-MD5 or checksum you specified did not match what we received.")
	ErrInvalidDigest             = newErr(http.StatusBadRequest, "InvalidDigest", "The Content-MD5 or checksum you specified is not valid.")
	ErrIncompleteBody            = newErr(http.StatusBadRequest, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header.")
	ErrMissingContentLength      = newErr(http.StatusLengthRequired, "MissingContentLength", "You must provide the Content-Length HTTP header.")
	ErrEntityTooLarge            = newErr(http.StatusBadRequest, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size.")
	ErrEntityTooSmall            = newErr(http.StatusBadRequest, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size.")
	ErrMetadataTooLarge          = newErr(http.StatusBadRequest, "MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size.")
	ErrMalformedXML              = newErr(http.StatusBadRequest, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema.")
	ErrInvalidArgument           = newErr(http.StatusBadRequest, "InvalidArgument", "Invalid Argument.")
	ErrInvalidRequest            = newErr(http.StatusBadRequest, "InvalidRequest", "Invalid Request.")
	ErrKeyTooLong                = newErr(http.StatusBadRequest, "KeyTooLongError", "Your key is too long.")
	ErrUnexpectedContent         = newErr(http.StatusBadRequest, "UnexpectedContent", "This request does not support content.")

	// Buckets.
	ErrNoSuchBucket              = newErr(http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist.")
	ErrBucketAlreadyExists       = newErr(http.StatusConflict, "BucketAlreadyExists", "The requested bucket name is not available.")
	ErrBucketAlreadyOwnedByYou   = newErr(http.StatusConflict, "BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it.")
	ErrBucketNotEmpty            = newErr(http.StatusConflict, "BucketNotEmpty", "The bucket you tried to delete is not empty.")
	ErrInvalidBucketName         = newErr(http.StatusBadRequest, "InvalidBucketName", "The specified bucket is not valid.")
	ErrInvalidLocationConstraint = newErr(http.StatusBadRequest, "InvalidLocationConstraint", "The specified location constraint is not valid.")

	// Objects.
	ErrNoSuchKey           = newErr(http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
	ErrInvalidRange        = newErr(http.StatusRequestedRangeNotSatisfiable, "InvalidRange", "The requested range is not satisfiable.")
	ErrPreconditionFailed  = newErr(http.StatusPreconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold.")
	ErrNotModified         = newErr(http.StatusNotModified, "NotModified", "Not Modified.")
	ErrInvalidCopySource   = newErr(http.StatusBadRequest, "InvalidArgument", "Copy Source must mention the source bucket and key: sourcebucket/sourcekey.")
	ErrInvalidStorageClass = newErr(http.StatusBadRequest, "InvalidStorageClass", "The storage class you specified is not valid.")
	ErrInvalidURI          = newErr(http.StatusBadRequest, "InvalidURI", "Couldn't parse the specified URI.")

	// Multipart uploads.
	ErrNoSuchUpload     = newErr(http.StatusNotFound, "NoSuchUpload", "The specified multipart upload does not exist. The upload ID might be invalid, or the multipart upload might have been aborted or completed.")
	ErrInvalidPart      = newErr(http.StatusBadRequest, "InvalidPart", "One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part's entity tag.")
	ErrInvalidPartOrder = newErr(http.StatusBadRequest, "InvalidPartOrder", "The list of parts was not in ascending order. The parts list must be specified in order by part number.")

	// Service.
	ErrInternalError      = newErr(http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
	ErrNotImplemented     = newErr(http.StatusNotImplemented, "NotImplemented", "A header or query you provided implies functionality that is not implemented.")
	ErrMethodNotAllowed   = newErr(http.StatusMethodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource.")
	ErrServiceUnavailable = newErr(http.StatusServiceUnavailable, "ServiceUnavailable", "Reduce your request rate.")
	ErrSlowDown           = newErr(http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate.")
	ErrQuotaExceeded      = newErr(http.StatusForbidden, "QuotaExceeded", "Storing this would exceed the space your node offers to the network.")
	ErrRequestTimeout     = newErr(http.StatusBadRequest, "RequestTimeout", "Your socket connection to the server was not read from or written to within the timeout period.")
)
