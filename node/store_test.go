package node_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ishtar/meta"
	"ishtar/node"
	"ishtar/node/storetest"
)

const testLeaf = 1024

func TestMemStoreConformance(t *testing.T) {
	storetest.Run(t, testLeaf, func(t *testing.T) node.Store { return node.NewMemStore(testLeaf) })
}

func TestDiskStoreConformance(t *testing.T) {
	storetest.Run(t, testLeaf, func(t *testing.T) node.Store { return newDiskStore(t) })
}

// TestInlineStoreConformance runs the suite on inline stores that keep
// some of its shards in the catalog (the suite's shards go up to five
// leaves) and on one that keeps all of them there.
func TestInlineStoreConformance(t *testing.T) {
	for _, tc := range []struct {
		name  string
		max   int64
		files func(t *testing.T) node.Store
	}{
		{"mixed-mem", 2 * testLeaf, func(*testing.T) node.Store { return node.NewMemStore(testLeaf) }},
		{"mixed-disk", 2 * testLeaf, newDiskStore},
		{"all", node.DefaultInlineMax, func(*testing.T) node.Store { return node.NewMemStore(testLeaf) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Run(t, testLeaf, func(t *testing.T) node.Store {
				return node.NewInlineStore(openCatalog(t), tc.files(t), tc.max, testLeaf)
			})
		})
	}
}

func openCatalog(t *testing.T) *meta.DB {
	t.Helper()
	db, err := meta.Open("catalog", meta.InMemory())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// newDiskStore returns a DiskStore in a new directory, checked at the end
// of the test for leftover temporary files.
func newDiskStore(t *testing.T) node.Store {
	dir := t.TempDir()
	st, err := node.NewDiskStore(dir, testLeaf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Nothing but committed shards may be left behind.
		err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && strings.Contains(d.Name(), ".tmp-") {
				t.Errorf("temporary file left: %s", p)
			}
			return err
		})
		if err != nil {
			t.Error(err)
		}
	})
	return st
}

func TestDiskStoreRemovesStrayTemps(t *testing.T) {
	dir := t.TempDir()
	if _, err := node.NewDiskStore(dir, testLeaf); err != nil {
		t.Fatal(err)
	}
	stray := filepath.Join(dir, "ab", ".tmp-crashed")
	if err := os.WriteFile(stray, []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := node.NewDiskStore(dir, testLeaf); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stray); !os.IsNotExist(err) {
		t.Fatalf("stray temporary file survived reopening: %v", err)
	}
}
