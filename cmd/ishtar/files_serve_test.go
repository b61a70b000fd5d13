package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runIshtarErr runs ishtar to completion and returns stdout, stderr and
// the error of the run.
func runIshtarErr(t *testing.T, environ []string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command("ishtar", args...)
	cmd.Env = append(append(os.Environ(), "ISHTAR_CONFIG=", "ISHTAR_DATA=", "ISHTAR_S3_ENDPOINT="), environ...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// TestFilesFindServe: the file commands, given only the data directory
// (--data or ISHTAR_DATA), find the S3 endpoint of the `serve` running on
// it, here on a port chosen at start (--s3 127.0.0.1:0), not the default
// 127.0.0.1:9000; and `ishtar list` before the first upload says that
// nothing is stored yet instead of failing.
func TestFilesFindServe(t *testing.T) {
	dir := initDataDir(t)
	p := startIshtar(t, "S3 endpoint:", serveArgs(dir)...)
	for _, c := range []struct {
		env  []string
		args []string
	}{
		{nil, []string{"list", "--data", dir}},
		{[]string{"ISHTAR_DATA=" + dir}, []string{"list"}},
		{[]string{"ISHTAR_DATA=" + dir}, []string{"list", "some/prefix"}},
	} {
		stdout, stderr, err := runIshtarErr(t, c.env, c.args...)
		if err != nil {
			t.Fatalf("ishtar %s: %v\n%s", strings.Join(c.args, " "), err, stderr)
		}
		if stdout != "" || !strings.Contains(stderr, "nothing is stored yet") {
			t.Fatalf("ishtar %s on a fresh install: stdout %q, stderr %q", strings.Join(c.args, " "), stdout, stderr)
		}
	}
	// A bucket named on purpose that does not exist is still an error.
	_, stderr, err := runIshtarErr(t, nil, "list", "--data", dir, "--bucket", "other")
	if err == nil || !strings.Contains(stderr, "NoSuchBucket") {
		t.Fatalf("list of a missing bucket: %v %q", err, stderr)
	}
	// The download of a missing file reaches the daemon (an S3 answer,
	// not a refused connection).
	_, stderr, err = runIshtarErr(t, nil, "download", "--data", dir, "nothing.bin", filepath.Join(t.TempDir(), "x"))
	if err == nil || !strings.Contains(stderr, "NoSuch") {
		t.Fatalf("download from a fresh install: %v %q", err, stderr)
	}
	p.stop()
	if _, err := os.Stat(filepath.Join(dir, s3EndpointFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s after serve stopped: %v", s3EndpointFile, err)
	}
}

// TestS3EndpointRecord: a damaged record is a one-line error naming the
// file, not a request to a wrong address.
func TestS3EndpointRecord(t *testing.T) {
	dir := t.TempDir()
	if ep, err := readS3Endpoint(dir); ep != "" || err != nil {
		t.Fatalf("no record: %q %v", ep, err)
	}
	if err := writeS3Endpoint(dir, "http://127.0.0.1:4321"); err != nil {
		t.Fatal(err)
	}
	cfg := Config{}
	cfg.Defaults()
	cfg.Data = dir
	if ep, err := dataEndpoint(&cfg); ep != "http://127.0.0.1:4321" || err != nil {
		t.Fatalf("recorded: %q %v", ep, err)
	}
	if err := os.WriteFile(filepath.Join(dir, s3EndpointFile), []byte("127.0.0.1:4321\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := dataEndpoint(&cfg); err == nil || !strings.Contains(err.Error(), s3EndpointFile) {
		t.Fatalf("damaged record: %v", err)
	}
	if err := removeS3Endpoint(dir); err != nil {
		t.Fatal(err)
	}
	if ep, err := dataEndpoint(&cfg); ep != "http://127.0.0.1:9000" || err != nil {
		t.Fatalf("no record: %q %v", ep, err)
	}
}
