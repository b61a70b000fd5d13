package main

// The data directory: what `ishtar init` creates and every other command
// reads.
//
//	DIR/owner.seed       the owner seed as its recovery phrase (one line;
//	                     32 raw bytes are read as well), mode 0600
//	DIR/node.key         the node's ed25519 seed, 32 raw bytes, mode 0600
//	DIR/s3.credentials   the local S3 access key ID and secret (TOML), mode 0600
//	DIR/catalog/         the Pebble catalog (node index and gateway catalog)
//	DIR/shards/          shards held for others
//	DIR/ishtar.toml      optional configuration

import (
	"bytes"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"

	"ishtar/cmd/ishtar/daemon"
	"ishtar/s3api"
	"ishtar/shard"
)

const (
	seedFile        = "owner.seed"
	nodeKeyFile     = "node.key"
	credentialsFile = "s3.credentials"
	catalogDir      = daemon.CatalogDir
	shardsDir       = daemon.ShardsDir
	configFile      = "ishtar.toml"
)

// identity is what a data directory holds for its owner and node.
type identity struct {
	seed  shard.Seed
	owner shard.OwnerKeys
	node  shard.PrivateKey
	creds s3Credentials
}

// daemon returns the identity a daemon acts as.
func (id identity) daemon() daemon.Identity {
	return daemon.Identity{Node: id.node, Owner: id.owner,
		S3: s3api.StaticCredentials{id.creds.AccessKeyID: id.creds.SecretAccessKey}}
}

// s3Credentials is the local S3 key pair; it never leaves this machine.
type s3Credentials struct {
	AccessKeyID     string `toml:"access_key_id"`
	SecretAccessKey string `toml:"secret_access_key"`
}

// newCredentials makes a random key pair: a 20-symbol access key ID and a
// 40-symbol secret, both in upper-case base32 (no shell quoting needed).
func newCredentials() s3Credentials {
	enc := base32.StdEncoding.WithPadding(base32.NoPadding)
	var id [12]byte
	var secret [25]byte
	_, _ = rand.Read(id[:]) // crypto/rand.Read never fails
	_, _ = rand.Read(secret[:])
	return s3Credentials{
		AccessKeyID:     "IS" + enc.EncodeToString(id[:])[:18],
		SecretAccessKey: enc.EncodeToString(secret[:]),
	}
}

// newIdentity makes a fresh identity; seed, if not zero, is the owner seed
// to restore.
func newIdentity(seed shard.Seed) (identity, error) {
	var err error
	if seed.IsZero() {
		if seed, err = shard.NewSeed(rand.Reader); err != nil {
			return identity{}, fmt.Errorf("make owner seed: %w", err)
		}
	}
	nk, err := shard.GeneratePrivateKey(rand.Reader)
	if err != nil {
		return identity{}, fmt.Errorf("make node key: %w", err)
	}
	return identity{seed: seed, owner: seed.Keys(), node: nk, creds: newCredentials()}, nil
}

// identityFiles are the files init creates, in creation order.
var identityFiles = []string{seedFile, nodeKeyFile, credentialsFile}

// existingIdentity returns the first identity file present in dir, or "".
func existingIdentity(dir string) (string, error) {
	for _, name := range identityFiles {
		_, err := os.Lstat(filepath.Join(dir, name))
		if err == nil {
			return name, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
	}
	return "", nil
}

// writeIdentity creates the identity files in dir (which must exist),
// each with mode 0600 and O_EXCL, so an existing file is never replaced.
// On failure it removes what it created.
func writeIdentity(dir string, id identity) (err error) {
	var creds bytes.Buffer
	if err := toml.NewEncoder(&creds).Encode(id.creds); err != nil {
		return fmt.Errorf("encode credentials: %w", err)
	}
	contents := map[string][]byte{
		seedFile:        []byte(id.seed.Phrase() + "\n"),
		nodeKeyFile:     id.node.Seed(),
		credentialsFile: creds.Bytes(),
	}
	var created []string
	defer func() {
		if err != nil {
			for _, p := range created {
				_ = os.Remove(p)
			}
		}
	}()
	for _, name := range identityFiles {
		p := filepath.Join(dir, name)
		if err := writeNewFile(p, contents[name]); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%s already exists", p)
			}
			return err
		}
		created = append(created, p)
	}
	return syncDir(dir)
}

// writeNewFile creates path with mode 0600, writes b and syncs it.
func writeNewFile(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// loadIdentity reads the identity files of dir.
func loadIdentity(dir string) (identity, error) {
	var id identity
	var err error
	if id.seed, err = loadSeed(filepath.Join(dir, seedFile)); err != nil {
		return id, err
	}
	id.owner = id.seed.Keys()
	if id.node, err = loadNodeKey(filepath.Join(dir, nodeKeyFile)); err != nil {
		return id, err
	}
	if id.creds, err = loadCredentials(filepath.Join(dir, credentialsFile)); err != nil {
		return id, err
	}
	return id, nil
}

// readSecret reads a secret file, refusing one that others may read.
func readSecret(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s does not exist (run `ishtar init --data %s` first)", path, filepath.Dir(path))
	}
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s has mode %04o; it holds a secret and must not be readable by others (chmod 600)", path, fi.Mode().Perm())
	}
	if fi.Size() > 64<<10 {
		return nil, fmt.Errorf("%s: %d bytes is too large", path, fi.Size())
	}
	return os.ReadFile(path)
}

// loadSeed reads an owner seed file: the recovery phrase, or 32 raw bytes.
func loadSeed(path string) (shard.Seed, error) {
	b, err := readSecret(path)
	if err != nil {
		return shard.Seed{}, err
	}
	if len(b) == shard.SeedSize {
		return shard.SeedFromBytes(b)
	}
	s, err := shard.ParsePhrase(strings.TrimSpace(string(b)))
	if err != nil {
		return shard.Seed{}, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// loadNodeKey reads a node key file: the 32-byte ed25519 seed.
func loadNodeKey(path string) (shard.PrivateKey, error) {
	b, err := readSecret(path)
	if err != nil {
		return shard.PrivateKey{}, err
	}
	k, err := shard.PrivateKeyFromSeed(b)
	if err != nil {
		return k, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// loadCredentials reads the local S3 key pair.
func loadCredentials(path string) (s3Credentials, error) {
	var c s3Credentials
	b, err := readSecret(path)
	if err != nil {
		return c, err
	}
	md, err := toml.Decode(string(b), &c)
	if err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return c, fmt.Errorf("%s: unknown key %q", path, und[0].String())
	}
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return c, fmt.Errorf("%s: access_key_id and secret_access_key must both be set", path)
	}
	return c, nil
}
