//go:build fixturegen

package meta

import (
	"os"
	"testing"
)

// TestWriteFixture writes fixtureData to $ISHTAR_META_FIXTURE with the
// layout of this commit:
//
//	ISHTAR_META_FIXTURE=$PWD/testdata/schemaN go test -tags fixturegen -run TestWriteFixture ./meta/
func TestWriteFixture(t *testing.T) {
	dir := os.Getenv("ISHTAR_META_FIXTURE")
	if dir == "" {
		t.Fatal("set ISHTAR_META_FIXTURE to the directory to write")
	}
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := fixtureData().write(db); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}
