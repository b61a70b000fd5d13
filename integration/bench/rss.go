package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// peakRSS resets the server process's peak resident set (Linux: 5 to
// /proc/PID/clear_refs), uploads size bytes streamed, and returns the
// peak (VmHWM) in MiB. The resident set before the upload is printed as
// rss_before_<name> for reference.
func peakRSS(ctx context.Context, t target, size int64) (float64, error) {
	c := client(t)
	if err := bucket(ctx, c, "rss"); err != nil {
		return 0, err
	}
	before, err := procStatus(t.pid, "VmRSS")
	if err != nil {
		return 0, err
	}
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", t.pid), []byte("5"), 0); err != nil {
		return 0, fmt.Errorf("reset the peak RSS of %d: %w", t.pid, err)
	}
	if err := streamPut(ctx, c, "rss", "big", size); err != nil {
		return 0, err
	}
	peak, err := procStatus(t.pid, "VmHWM")
	if err != nil {
		return 0, err
	}
	prefix := ""
	if t.name != "" {
		prefix = t.name + "_"
	}
	fmt.Printf("BENCH %srss_before_upload %.1f MiB\n", prefix, before)
	return peak, nil
}

// procStatus returns a /proc/PID/status field given in kB, in MiB.
func procStatus(pid int, field string) (float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/status %s: %w", pid, field, err)
		}
		return float64(kb) / 1024, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("/proc/%d/status has no %s", pid, field)
}

// cpuTimes returns the user and system CPU seconds a process has used
// (Linux: /proc/PID/stat, fields 14 and 15, in clock ticks of 1/100 s).
func cpuTimes(pid int) ([2]float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return [2]float64{}, err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	_, rest, ok := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return [2]float64{}, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	var t [2]float64
	for i := range t {
		ticks, err := strconv.ParseInt(f[11+i], 10, 64)
		if err != nil {
			return t, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		t[i] = float64(ticks) / 100
	}
	return t, nil
}
