package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestRealClients runs the S3 clients people use, from Debian's packages,
// against one `ishtar devnet` process: every aws cli on PATH, rclone,
// restic and s3cmd, comparing every byte with cmp and diff -r.
func TestRealClients(t *testing.T) {
	needProcesses(t)
	d := startDevnet(t).target()
	t.Run("aws", func(t *testing.T) {
		for i, cli := range findAWS(t) {
			t.Run(strings.ReplaceAll(cli.version, "/", "-"), func(t *testing.T) {
				testAWSCLI(t, d, cli, fmt.Sprintf("awscli-%d", i))
			})
		}
	})
	t.Run("rclone", func(t *testing.T) { testRclone(t, d) })
	t.Run("restic", func(t *testing.T) { testRestic(t, d) })
	t.Run("s3cmd", func(t *testing.T) { testS3cmd(t, d) })
}

// s3Target is an S3 endpoint and its credentials.
type s3Target struct {
	Endpoint, AccessKey, SecretKey, Region string
}

func (d *devnetRun) target() s3Target {
	return s3Target{Endpoint: d.Endpoint, AccessKey: d.AccessKey, SecretKey: d.SecretKey, Region: d.Region}
}

// rcloneTool returns rclone with a generated config naming the devnet
// "ishtar" (type s3, provider Other).
func rcloneTool(t *testing.T, d s3Target) tool {
	conf := writeFile(t, t.TempDir(), "rclone.conf", fmt.Appendf(nil,
		"[ishtar]\ntype = s3\nprovider = Other\naccess_key_id = %s\nsecret_access_key = %s\nendpoint = %s\nregion = %s\n",
		d.AccessKey, d.SecretKey, d.Endpoint, d.Region))
	return tool{path: requireTool(t, "rclone"), env: []string{
		"RCLONE_CONFIG=" + conf, "RCLONE_CACHE_DIR=" + t.TempDir(),
	}}
}

// lsf lists a remote path recursively, files only, sorted.
func lsf(t *testing.T, rc tool, remote string) []string {
	out := rc.run(t, 2*time.Minute, "lsf", "-R", "--files-only", remote)
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	slices.Sort(lines)
	return lines
}

func treeNames() []string {
	var names []string
	for _, f := range treeFiles {
		names = append(names, f.name)
	}
	slices.Sort(names)
	return names
}

func testRclone(t *testing.T, d s3Target) {
	rc := rcloneTool(t, d)
	run := func(args ...string) string { return rc.run(t, 5*time.Minute, args...) }
	run("mkdir", "ishtar:rclone")
	tree := makeTree(t, 8000)
	run("copy", tree, "ishtar:rclone/tree")
	run("check", tree, "ishtar:rclone/tree")
	if got := lsf(t, rc, "ishtar:rclone/tree"); !slices.Equal(got, treeNames()) {
		t.Fatalf("lsf -R after copy:\n%q\nwant\n%q", got, treeNames())
	}
	back := t.TempDir()
	run("copy", "ishtar:rclone/tree", back)
	sameTree(t, tree, back)

	// Change the tree: one file rewritten, one removed, one added; sync
	// makes the remote equal to it.
	writeFile(t, tree, "one byte", []byte("now two"))
	if err := os.RemoveAll(filepath.Join(tree, "z")); err != nil { // z/last, and z: S3 has no empty directories
		t.Fatal(err)
	}
	writeFile(t, tree, "new/file", randBytes(33*KiB, 8100))
	run("sync", tree, "ishtar:rclone/tree")
	run("check", tree, "ishtar:rclone/tree")
	want := slices.DeleteFunc(append(treeNames(), "new/file"), func(s string) bool { return s == "z/last" })
	slices.Sort(want)
	if got := lsf(t, rc, "ishtar:rclone/tree"); !slices.Equal(got, want) {
		t.Fatalf("lsf -R after sync:\n%q\nwant\n%q", got, want)
	}
	back = t.TempDir()
	run("sync", "ishtar:rclone/tree", back)
	sameTree(t, tree, back)

	run("delete", "ishtar:rclone/tree")
	if got := lsf(t, rc, "ishtar:rclone/tree"); len(got) != 0 {
		t.Fatalf("files left after delete: %q", got)
	}
}

func testRestic(t *testing.T, d s3Target) {
	restic := tool{path: requireTool(t, "restic"), env: []string{
		"RESTIC_REPOSITORY=s3:" + d.Endpoint + "/restic",
		"RESTIC_PASSWORD=integration-password",
		"RESTIC_CACHE_DIR=" + t.TempDir(),
		"AWS_ACCESS_KEY_ID=" + d.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + d.SecretKey,
		"AWS_DEFAULT_REGION=" + d.Region,
	}}
	run := func(args ...string) string { return restic.run(t, 5*time.Minute, args...) }
	run("init")
	tree := makeTree(t, 9000)
	// Back up from inside the tree so the snapshot's paths are relative.
	restic.dir = tree
	run("backup", ".")
	restic.dir = ""
	run("check", "--read-data")
	target := t.TempDir()
	run("restore", "latest", "--target", target)
	sameTree(t, tree, target)
}

func testS3cmd(t *testing.T, d s3Target) {
	host := strings.TrimPrefix(d.Endpoint, "http://")
	conf := writeFile(t, t.TempDir(), "s3cfg", fmt.Appendf(nil,
		"[default]\naccess_key = %s\nsecret_key = %s\nhost_base = %s\nhost_bucket = %s\nuse_https = False\n"+
			"signature_v2 = False\nbucket_location = %s\ncheck_ssl_certificate = False\n",
		d.AccessKey, d.SecretKey, host, host, d.Region))
	s3cmd := tool{path: requireTool(t, "s3cmd")}
	run := func(args ...string) string {
		return s3cmd.run(t, 5*time.Minute, append([]string{"-c", conf}, args...)...)
	}
	run("mb", "s3://s3cmd")
	dir := t.TempDir()
	small := writeFile(t, dir, "small file.txt", []byte("s3cmd was here\n"))
	big := writeFile(t, dir, "big.bin", randBytes(20*MiB, 9900)) // s3cmd's multipart: 15 MiB chunks
	run("put", small, "s3://s3cmd/dir/small file.txt")
	run("put", big, "s3://s3cmd/dir/big.bin")
	out := t.TempDir()
	run("get", "s3://s3cmd/dir/small file.txt", filepath.Join(out, "small"))
	run("get", "s3://s3cmd/dir/big.bin", filepath.Join(out, "big"))
	sameFile(t, small, filepath.Join(out, "small"))
	sameFile(t, big, filepath.Join(out, "big"))
	ls := run("ls", "s3://s3cmd/dir/")
	for _, want := range []string{"s3://s3cmd/dir/small file.txt", "s3://s3cmd/dir/big.bin", " 20971520 "} {
		if !strings.Contains(ls, want) {
			t.Fatalf("s3cmd ls lacks %q:\n%s", want, ls)
		}
	}
}
