package main

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets scripts (and the process tests) run the real ishtar
// binary: the test binary re-executes itself as "ishtar", found on PATH.
// Daemons of the process tests take a free port for their admin
// listener, not the default one, so that they run side by side.
func TestMain(m *testing.M) {
	if os.Getenv("ISHTAR_ADMIN") == "" {
		_ = os.Setenv("ISHTAR_ADMIN", "127.0.0.1:0")
	}
	testscript.Main(m, map[string]func(){"ishtar": main})
}

func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits":   cmdExits,
			"perm":    cmdPerm,
			"oneline": cmdOneLine,
		},
	})
}

// cmdExits runs a program and checks its exit status: exits N prog args...
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits STATUS PROGRAM [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("%s: %v", args[1], err)
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}

// cmdPerm checks a file's permission bits: perm 0600 FILE.
func cmdPerm(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: perm MODE FILE")
	}
	want, err := strconv.ParseUint(args[0], 8, 32)
	ts.Check(err)
	fi, err := os.Stat(ts.MkAbs(args[1]))
	ts.Check(err)
	if got := fi.Mode().Perm(); uint64(got) != want {
		ts.Fatalf("%s has mode %04o, want %04o", args[1], got, want)
	}
}

// cmdOneLine checks that stderr is exactly one line beginning "ishtar: ".
func cmdOneLine(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: oneline")
	}
	s := ts.ReadFile("stderr")
	if strings.Count(s, "\n") != 1 || !strings.HasSuffix(s, "\n") || !strings.HasPrefix(s, "ishtar: ") {
		ts.Fatalf("stderr is not one line beginning with \"ishtar: \": %q", s)
	}
}
