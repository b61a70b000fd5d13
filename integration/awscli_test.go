package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// awsCLI is one distinct aws command line found on PATH.
type awsCLI struct {
	path    string
	version string // "aws-cli/2.9.19"
	full    string // the whole --version line
}

// findAWS returns every distinct aws on PATH, in PATH order, deduplicated
// by real path and then by version (Debian's /usr/bin/aws and /bin/aws are
// one; a pyenv shim running aws cli v1 is another).
func findAWS(t testing.TB) []awsCLI {
	t.Helper()
	var found []awsCLI
	seenPath := map[string]bool{}
	seenVersion := map[string]bool{}
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		p := filepath.Join(dir, "aws")
		st, err := os.Stat(p)
		if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			continue
		}
		real, err := filepath.EvalSymlinks(p)
		if err != nil || seenPath[real] {
			continue
		}
		seenPath[real] = true
		out, _, err := tool{path: p}.try(t, time.Minute, "--version")
		if err != nil {
			t.Logf("%s --version: %v (ignored)", p, err)
			continue
		}
		line := strings.TrimSpace(out)
		if line == "" { // aws cli v1 printed its version on stderr before 1.17
			continue
		}
		v := strings.Fields(line)[0]
		if seenVersion[v] {
			continue
		}
		seenVersion[v] = true
		found = append(found, awsCLI{path: p, version: v, full: line})
	}
	if len(found) == 0 {
		requireTool(t, "aws") // fails under CI, skips elsewhere
	}
	return found
}

// awsTool returns a runner of cli against the devnet, isolated from this
// machine's AWS configuration.
func awsTool(t *testing.T, cli awsCLI, d s3Target) tool {
	cfgDir := t.TempDir()
	writeFile(t, cfgDir, "config", []byte("[default]\nregion = "+d.Region+"\n"))
	writeFile(t, cfgDir, "credentials", []byte("[default]\naws_access_key_id = "+d.AccessKey+
		"\naws_secret_access_key = "+d.SecretKey+"\n"))
	return tool{path: cli.path, env: []string{
		"AWS_CONFIG_FILE=" + filepath.Join(cfgDir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(cfgDir, "credentials"),
		"AWS_ACCESS_KEY_ID=" + d.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + d.SecretKey,
		"AWS_DEFAULT_REGION=" + d.Region,
		"AWS_REGION=" + d.Region,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_PAGER=",
	}}
}

// testAWSCLI runs the aws checks of issue 4 with one aws command line:
// s3 cp small and 100 MiB, s3 sync both ways with diff -r, s3 ls, and
// s3api get-object --range.
func testAWSCLI(t *testing.T, d s3Target, cli awsCLI, bucket string) {
	t.Logf("%s: %s", cli.path, cli.full)
	aws := awsTool(t, cli, d)
	ep := []string{"--endpoint-url", d.Endpoint}
	s3 := func(args ...string) string {
		return aws.run(t, 5*time.Minute, append(ep, args...)...)
	}
	s3("s3", "mb", "s3://"+bucket)
	src, dst := t.TempDir(), t.TempDir()

	small := writeFile(t, src, "small.txt", []byte("hello, ishtar\n"))
	s3("s3", "cp", small, "s3://"+bucket+"/small.txt")
	s3("s3", "cp", "s3://"+bucket+"/small.txt", filepath.Join(dst, "small.txt"))
	sameFile(t, small, filepath.Join(dst, "small.txt"))

	big := writeFile(t, src, "big.bin", randBytes(100*MiB, 4242))
	s3("s3", "cp", big, "s3://"+bucket+"/big.bin")
	s3("s3", "cp", "s3://"+bucket+"/big.bin", filepath.Join(dst, "big.bin"))
	sameFile(t, big, filepath.Join(dst, "big.bin"))

	out := filepath.Join(dst, "range.bin")
	s3("s3api", "get-object", "--bucket", bucket, "--key", "big.bin", "--range", "bytes=16777200-33554449", out)
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(big)
	if err != nil {
		t.Fatal(err)
	}
	sameBytes(t, "s3api get-object --range", got, want[16777200:33554450])

	tree := makeTree(t, 7000)
	// botocore answers a 100-continue-less reply to an empty PUT by
	// misparsing the next response on that connection and stalling for
	// its 60 s read timeout (boto/botocore#3755): a bound below that
	// catches a server that does not send "100 Continue" for empty bodies.
	const syncBound = 45 * time.Second
	aws.run(t, syncBound, append(ep, "s3", "sync", tree, "s3://"+bucket+"/tree/")...)
	if again := aws.run(t, syncBound, append(ep, "s3", "sync", tree, "s3://"+bucket+"/tree/")...); strings.Contains(again, "upload:") {
		t.Fatalf("a second sync uploaded again:\n%s", again)
	}
	back := t.TempDir()
	aws.run(t, syncBound, append(ep, "s3", "sync", "s3://"+bucket+"/tree/", back)...)
	sameTree(t, tree, back)

	ls := s3("s3", "ls", "--recursive", "s3://"+bucket+"/tree/")
	for _, f := range treeFiles {
		if !strings.Contains(ls, "tree/"+f.name) {
			t.Fatalf("s3 ls does not show %q:\n%s", f.name, ls)
		}
	}
	if top := s3("s3", "ls", "s3://"+bucket+"/"); !strings.Contains(top, "PRE tree/") || !strings.Contains(top, "big.bin") {
		t.Fatalf("s3 ls of the bucket:\n%s", top)
	}
}

// TestFindAWS checks the discovery of aws command lines on its own.
func TestFindAWS(t *testing.T) {
	needProcesses(t)
	if _, err := exec.LookPath("aws"); err != nil && os.Getenv("CI") == "" {
		t.Skip("no aws on PATH")
	}
	clis := findAWS(t)
	seen := map[string]bool{}
	for _, c := range clis {
		if !strings.HasPrefix(c.version, "aws-cli/") || seen[c.version] {
			t.Fatalf("bad or repeated version %q of %s", c.version, c.path)
		}
		seen[c.version] = true
		t.Logf("%s: %s", c.path, c.full)
	}
}
