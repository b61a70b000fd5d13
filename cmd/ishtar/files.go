package main

// The file commands talk to the local daemon's S3 endpoint with the local
// keys. Where they find it:
//
//   - a data directory named with --data or ISHTAR_DATA: its s3.credentials,
//     and its S3 address: DATA/devnet.toml for a devnet, else DATA/s3.endpoint,
//     which `serve` writes while it runs (the address it listens on, however
//     it was configured: flags, environment or DATA/ishtar.toml), else the
//     configuration's s3.listen (the same layers but flags);
//   - otherwise, when ISHTAR_S3_ENDPOINT is set (as `. DIR/devnet.env`
//     does): that endpoint and AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY;
//   - otherwise the default data directory, ~/.ishtar.
//
// --endpoint overrides the endpoint in every case.

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// defaultBucket is where the file commands keep files unless --bucket.
const defaultBucket = "ishtar"

// fileFlags are the flags every file command has.
type fileFlags struct {
	l        *loader
	endpoint string
	bucket   string
	progress bool
}

func newFileFlags(name string, e *env) *fileFlags {
	f := &fileFlags{l: newLoader(name, []string{"data"}, e.lookupEnv)}
	f.l.fs.StringVar(&f.endpoint, "endpoint", "", "the S3 endpoint `URL` (default: from the data directory or ISHTAR_S3_ENDPOINT)")
	f.l.fs.StringVar(&f.bucket, "bucket", defaultBucket, "the `BUCKET` to use")
	f.l.fs.BoolVar(&f.progress, "progress", false, "show a progress bar even when stderr is not a terminal")
	return f
}

// parse parses args and checks the positional argument count.
func (f *fileFlags) parse(e *env, args []string, usage string, minArgs, maxArgs int) error {
	if err := f.l.parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printFlags(e.stdout, f.l.fs, usage)
		}
		return err
	}
	if n := f.l.fs.NArg(); n < minArgs || (maxArgs >= 0 && n > maxArgs) {
		return usageErrorf("%s: usage: ishtar %s %s", f.l.fs.Name(), f.l.fs.Name(), usage)
	}
	if f.bucket == "" {
		return usageErrorf("%s: --bucket is empty", f.l.fs.Name())
	}
	return nil
}

// client resolves the endpoint and keys and returns a client.
func (f *fileFlags) client(e *env) (*s3Client, error) {
	cfg, err := f.l.load()
	if err != nil {
		return nil, err
	}
	explicitData := len(f.l.flagValues()["data"]) > 0
	if v, ok := e.lookupEnv("ISHTAR_DATA"); ok && v != "" {
		explicitData = true
	}
	endpoint, envEndpoint := e.lookupEnv("ISHTAR_S3_ENDPOINT")
	useEnv := !explicitData && envEndpoint && endpoint != ""
	region := cfg.S3.Region
	if v, ok := e.lookupEnv("AWS_REGION"); ok && v != "" && useEnv {
		region = v
	}
	var creds s3Credentials
	if useEnv {
		creds.AccessKeyID, _ = e.lookupEnv("AWS_ACCESS_KEY_ID")
		creds.SecretAccessKey, _ = e.lookupEnv("AWS_SECRET_ACCESS_KEY")
		if creds.AccessKeyID == "" || creds.SecretAccessKey == "" {
			return nil, errors.New("ISHTAR_S3_ENDPOINT is set but AWS_ACCESS_KEY_ID or AWS_SECRET_ACCESS_KEY is not")
		}
	} else {
		if creds, err = loadCredentials(filepath.Join(cfg.Data, credentialsFile)); err != nil {
			return nil, err
		}
		if endpoint, err = dataEndpoint(&cfg); err != nil {
			return nil, err
		}
	}
	if f.endpoint != "" {
		endpoint = f.endpoint
	}
	return newS3Client(endpoint, creds, region)
}

// s3EndpointFile, in a data directory, holds the URL of the S3 endpoint of
// the `serve` running on it, written once it listens and removed when it
// stops.
const s3EndpointFile = "s3.endpoint"

// writeS3Endpoint records the S3 endpoint url of the daemon of data.
func writeS3Endpoint(data, url string) error {
	return writeFileAtomic(filepath.Join(data, s3EndpointFile), []byte(url+"\n"), 0o600)
}

// removeS3Endpoint removes the record of writeS3Endpoint.
func removeS3Endpoint(data string) error {
	err := os.Remove(filepath.Join(data, s3EndpointFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// readS3Endpoint returns the endpoint recorded in data, or "" if none.
func readS3Endpoint(data string) (string, error) {
	p := filepath.Join(data, s3EndpointFile)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	ep := strings.TrimSpace(string(b))
	if u, err := url.Parse(ep); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%s does not hold an http(s):// URL; remove it or give --endpoint", p)
	}
	return ep, nil
}

// dataEndpoint is the S3 endpoint of the daemon or devnet using cfg.Data.
func dataEndpoint(cfg *Config) (string, error) {
	addr := cfg.S3Listen
	if st, err := readDevnetState(cfg.Data); err == nil {
		addr = st.S3
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	} else if ep, err := readS3Endpoint(cfg.Data); err != nil || ep != "" {
		return ep, err
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("S3 address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port), nil
}

// s3URL names an object for messages.
func s3URL(bucket, key string) string { return "s3://" + bucket + "/" + key }

// progressOn reports whether transfers show a bar.
func (f *fileFlags) progressOn(e *env) bool { return f.progress || isTerminal(e.stderr) }
