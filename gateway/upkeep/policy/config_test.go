package policy

import (
	"strings"
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	c := Defaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.K != 10 || c.N != 30 || c.RepairThreshold != 20 || c.MinAcks != 11 {
		t.Fatalf("defaults %+v", c)
	}
	if c.OfflineGrace != 24*time.Hour || c.AuditInterval != 14*24*time.Hour || c.Lease != 90*24*time.Hour || c.RenewBefore != c.Lease/3 {
		t.Fatalf("defaults %+v", c)
	}
	for _, kn := range [][2]int{{1, 2}, {3, 4}, {3, 5}, {10, 16}, {1, 256}, {255, 256}} {
		c := DefaultsFor(kn[0], kn[1])
		if err := c.Validate(); err != nil {
			t.Errorf("DefaultsFor(%d, %d): %v", kn[0], kn[1], err)
		}
	}
	for _, tc := range []struct{ k, n, threshold, minAcks int }{
		{3, 4, 3, 4}, {3, 5, 4, 4}, {1, 2, 1, 2}, {6, 12, 9, 7}, {10, 20, 15, 11}, {10, 30, 20, 11}, {255, 256, 255, 256},
	} {
		if c := DefaultsFor(tc.k, tc.n); c.RepairThreshold != tc.threshold || c.MinAcks != tc.minAcks {
			t.Errorf("DefaultsFor(%d, %d): threshold %d, min acks %d, want %d, %d", tc.k, tc.n, c.RepairThreshold, c.MinAcks, tc.threshold, tc.minAcks)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string // "" valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"K zero", func(c *Config) { c.K = 0 }, "code 0 of 5"},
		{"K = N", func(c *Config) { c.K = 5 }, "code 5 of 5"},
		{"N too big", func(c *Config) { c.N = 300; c.RepairThreshold = 4 }, "N <= 256"},
		{"threshold K", func(c *Config) { c.RepairThreshold = 3 }, ""},
		{"threshold below K", func(c *Config) { c.RepairThreshold = 2 }, "RepairThreshold 2"},
		{"threshold N", func(c *Config) { c.RepairThreshold = 5 }, "RepairThreshold 5"},
		{"MinAcks K", func(c *Config) { c.MinAcks = 3 }, ""},
		{"MinAcks N", func(c *Config) { c.MinAcks = 5 }, ""},
		{"MinAcks below K", func(c *Config) { c.MinAcks = 2 }, "MinAcks 2"},
		{"MinAcks above N", func(c *Config) { c.MinAcks = 6 }, "MinAcks 6"},
		{"grace zero", func(c *Config) { c.OfflineGrace = 0 }, "OfflineGrace 0s"},
		{"grace >= RenewBefore", func(c *Config) { c.OfflineGrace = c.RenewBefore }, "need < RenewBefore"},
		{"probe after grace/2", func(c *Config) { c.ProbeAfter = c.OfflineGrace / 2 }, ""},
		{"probe after > grace/2", func(c *Config) { c.ProbeAfter = c.OfflineGrace/2 + 1 }, "ProbeAfter"},
		{"probe after negative", func(c *Config) { c.ProbeAfter = -1 }, "ProbeAfter"},
		{"max probes zero", func(c *Config) { c.MaxProbes = 0 }, "MaxProbes"},
		{"interval zero", func(c *Config) { c.AuditInterval = 0 }, "AuditInterval 0s"},
		{"audit rate zero", func(c *Config) { c.AuditBytesPerSecond = 0 }, "AuditBytesPerSecond"},
		{"audit overhead negative", func(c *Config) { c.AuditOverhead = -1 }, "AuditOverhead"},
		{"recheck zero", func(c *Config) { c.RecheckAfter = 0 }, "RecheckAfter"},
		{"recheck >= interval", func(c *Config) { c.RecheckAfter = c.AuditInterval }, "RecheckAfter"},
		{"suspect 1", func(c *Config) { c.SuspectReputation = 1 }, "SuspectReputation"},
		{"suspect 0", func(c *Config) { c.SuspectReputation = 0 }, ""},
		{"leaf zero", func(c *Config) { c.LeafSize = 0 }, "LeafSize"},
		{"repair rate NaN", func(c *Config) { c.RepairBytesPerSecond = nan() }, "RepairBytesPerSecond"},
		{"burst zero", func(c *Config) { c.BurstWindow = 0 }, "BurstWindow"},
		{"renew = lease", func(c *Config) { c.RenewBefore = c.Lease }, "RenewBefore"},
		{"lease zero", func(c *Config) { c.Lease = 0 }, "Lease 0s"},
		{"batch zero", func(c *Config) { c.RenewBatch = 0 }, "RenewBatch 0"},
		{"batch too big", func(c *Config) { c.RenewBatch = 4097 }, "RenewBatch 4097"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultsFor(3, 5)
			tc.edit(&c)
			err := c.Validate()
			_, nerr := New(c)
			if (err == nil) != (nerr == nil) {
				t.Fatalf("Validate %v, New %v", err, nerr)
			}
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("no error, want %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("error %q, want %q", err, tc.want)
			}
		})
	}
}

func nan() float64 { var z float64; return z / z }
