package node_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ishtar/node"
	"ishtar/node/storetest"
)

const testLeaf = 1024

func TestMemStoreConformance(t *testing.T) {
	storetest.Run(t, testLeaf, func(t *testing.T) node.Store { return node.NewMemStore(testLeaf) })
}

func TestDiskStoreConformance(t *testing.T) {
	storetest.Run(t, testLeaf, func(t *testing.T) node.Store {
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
	})
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
