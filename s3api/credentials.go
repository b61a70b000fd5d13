package s3api

// Credentials looks up secrets; the keys live only on this machine.
type Credentials interface {
	SecretKey(accessKeyID string) (secret string, ok bool)
}

// StaticCredentials maps access key ID -> secret.
type StaticCredentials map[string]string

var _ Credentials = StaticCredentials(nil)

// SecretKey returns the secret for accessKeyID.
func (c StaticCredentials) SecretKey(accessKeyID string) (string, bool) {
	s, ok := c[accessKeyID]
	return s, ok
}
