package main

// ishtar devnet: a whole network on loopback in one process. DIR holds
// the gateway's own node and the owner's identity (as `ishtar init` makes
// them, so the file commands work with --data DIR), DIR/node-1... the
// storage nodes (node.key, catalog, shards), DIR/devnet.toml the addresses
// chosen at first start, and DIR/devnet.env the S3 settings for a shell.

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/BurntSushi/toml"

	"ishtar/cmd/ishtar/daemon"
	"ishtar/gateway"
	"ishtar/s3api"
	"ishtar/shard"
)

const (
	devnetStateFile = "devnet.toml"
	devnetEnvFile   = "devnet.env"
	devnetBucket    = "demo"
	defaultDevnet   = ".devnet"
)

// devnetState is DIR/devnet.toml: what a devnet keeps across restarts so
// that every node comes back at the same address.
type devnetState struct {
	S3    string   `toml:"s3"`    // S3 endpoint listen address
	Admin string   `toml:"admin"` // admin listener address ("": off)
	Nodes []string `toml:"nodes"` // node listen addresses; [0] is the gateway's own node
	K     int      `toml:"k"`
	N     int      `toml:"n"`
}

// readDevnetState reads DIR/devnet.toml; an absent file gives an error
// matching os.ErrNotExist.
func readDevnetState(dir string) (devnetState, error) {
	var st devnetState
	p := filepath.Join(dir, devnetStateFile)
	md, err := toml.DecodeFile(p, &st)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return st, err
		}
		return st, fmt.Errorf("%s: %s", p, oneLine(err.Error()))
	}
	if und := md.Undecoded(); len(und) > 0 {
		return st, fmt.Errorf("%s: unknown key %q", p, und[0].String())
	}
	if !md.IsDefined("admin") {
		st.Admin = daemon.DefaultAdmin // a devnet made before the admin listener
	}
	if len(st.Nodes) < 2 || st.S3 == "" {
		return st, fmt.Errorf("%s: needs s3 and at least two nodes", p)
	}
	return st, nil
}

// devnetKeys are the settings devnet takes from flags, environment or file.
var devnetKeys = []string{"data", "s3.listen", "admin", "capacity", "log.level", "log.format", "gateway.k", "gateway.n", "gateway.segment_size", "network.exchange_interval"}

func runDevnet(ctx context.Context, e *env, args []string) error {
	l := newLoader("devnet", devnetKeys, e.lookupEnv)
	l.defaultData = defaultDevnet
	nodes := l.fs.Int("nodes", 6, "run `N` nodes: the gateway's own node and N-1 storage nodes")
	pprofAddr := addPprofFlag(l.fs)
	if err := l.parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printFlags(e.stdout, l.fs, "--data DIR [--nodes 6] [--s3 ADDR] [flags]")
		}
		return err
	}
	if l.fs.NArg() > 0 {
		return usageErrorf("devnet: unexpected argument %q", l.fs.Arg(0))
	}
	cfg, err := l.load()
	if err != nil {
		return err
	}
	if cfg.Data, err = filepath.Abs(cfg.Data); err != nil {
		return fmt.Errorf("devnet: %w", err)
	}
	log := newLogger(e.stderr, cfg.LogFormat, cfg.LogLevel)
	if _, err := startPprof(ctx, *pprofAddr, log); err != nil {
		return err
	}
	st, err := devnetPlan(l, &cfg, *nodes, l.flagGiven("nodes"))
	if err != nil {
		return fmt.Errorf("devnet: %w", err)
	}
	cfg.Node.Version = version
	dn, id, err := openDevnet(&cfg, &st, log)
	if err != nil {
		return fmt.Errorf("devnet: %w", err)
	}
	// A devnet that cannot finish its setup stops rather than never
	// announcing its endpoint.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ready := func() {
		if err := devnetReady(ctx, e, dn, id, &cfg, &st, log); err != nil {
			cancel(err)
		}
	}
	err = dn.run(ctx, ready)
	if cause := context.Cause(ctx); err == nil && cause != nil && !errors.Is(cause, context.Canceled) {
		err = cause
	}
	if err != nil {
		return fmt.Errorf("devnet: %w", err)
	}
	return nil
}

// devnet is the daemons of a devnet: the storage nodes and, over the
// first node, the gateway.
type devnet struct {
	gw      *daemon.Daemon
	storage []*daemon.Daemon
}

// run runs the storage nodes, then the gateway's daemon, until ctx ends;
// ready is called once the gateway is serving. The gateway stops first,
// the storage nodes once its requests are done.
func (dn *devnet) run(ctx context.Context, ready func()) error {
	sctx, stopStorage := context.WithCancel(context.WithoutCancel(ctx))
	defer stopStorage()
	errs := make(chan error, len(dn.storage))
	for _, d := range dn.storage {
		go func() { errs <- d.Run(sctx, nil) }()
	}
	err := dn.gw.Run(ctx, ready)
	stopStorage()
	for range dn.storage {
		err = errors.Join(err, <-errs)
	}
	return err
}

// close closes daemons that never ran.
func (dn *devnet) close() {
	for _, d := range append(dn.storage, dn.gw) {
		if d != nil {
			_ = d.Close()
		}
	}
}

// devnetPlan settles the devnet's shape: on first start from the settings,
// afterwards from DIR/devnet.toml (flags may change k, n and the S3
// address, never the number of nodes).
func devnetPlan(l *loader, cfg *Config, nodes int, nodesGiven bool) (devnetState, error) {
	cfg.Gateway.AddressDiversity = false
	cfg.Advertise = ""
	st, err := readDevnetState(cfg.Data)
	switch {
	case errors.Is(err, os.ErrNotExist):
		st = devnetState{S3: cfg.S3Listen, Admin: cfg.Admin, Nodes: make([]string, nodes)}
		for i := range st.Nodes {
			st.Nodes[i] = "127.0.0.1:0"
		}
	case err != nil:
		return st, err
	default:
		if nodesGiven && nodes != len(st.Nodes) {
			return st, fmt.Errorf("%s has %d nodes, not %d; remove it to start another devnet", cfg.Data, len(st.Nodes), nodes)
		}
		if !l.isSet("s3.listen") {
			cfg.S3Listen = st.S3
		}
		if !l.isSet("admin") {
			cfg.Admin = st.Admin // as chosen at first start (or off)
		}
		if !l.isSet("gateway.k") && !l.isSet("gateway.n") && st.K > 0 {
			cfg.Gateway.Params.K, cfg.Gateway.Params.N = st.K, st.N
		}
	}
	st.S3, st.Admin = cfg.S3Listen, cfg.Admin
	st.K, st.N = cfg.Gateway.Params.K, cfg.Gateway.Params.N // 0, 0: the default code
	if n := cfg.GatewayConfig(shard.PublicKey{}).MinN(); len(st.Nodes)-1 < n {
		return st, fmt.Errorf("%d storage nodes cannot hold n=%d shards of a segment; use --nodes %d or more", len(st.Nodes)-1, n, n+1)
	}
	return st, nil
}

// openDevnet opens every node, the gateway and the S3 listener, creating
// identities and keys on first start, and saves the chosen addresses.
func openDevnet(cfg *Config, st *devnetState, log *slog.Logger) (_ *devnet, _ identity, err error) {
	id, err := devnetIdentity(cfg.Data)
	if err != nil {
		return nil, id, err
	}
	dn := &devnet{}
	defer func() {
		if err != nil {
			dn.close()
		}
	}()
	var peers []string
	for i, addr := range st.Nodes[1:] {
		dir := filepath.Join(cfg.Data, fmt.Sprintf("node-%d", i+1))
		key, err := devnetNodeKey(dir)
		if err != nil {
			return nil, id, err
		}
		c := cfg.Config
		c.Data, c.Listen, c.StorageOnly, c.Admin = dir, addr, true, ""
		// The storage nodes are the devnet owner's: their records link
		// them to the owner, whose shards they hold without counting credit.
		d, err := daemon.Open(c, daemon.Identity{Node: key, Owner: id.owner}, daemon.Options{Log: log.With("node", i+1)})
		if err != nil {
			return nil, id, fmt.Errorf("node %d: %w", i+1, err)
		}
		dn.storage = append(dn.storage, d)
		st.Nodes[i+1] = d.NodeAddr()
		peers = append(peers, d.NodeURL())
	}
	c := cfg.Config
	c.Listen, c.Network.Bootstrap = st.Nodes[0], peers
	if dn.gw, err = daemon.Open(c, id.daemon(), daemon.Options{Log: log.With("node", 0)}); err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			err = fmt.Errorf("%w; choose another address with --s3 or --admin", err)
		}
		return nil, id, err
	}
	st.Nodes[0] = dn.gw.NodeAddr()
	st.S3 = dn.gw.S3Addr()
	if a := dn.gw.AdminAddr(); a != "" {
		st.Admin = a
	}
	if err := writeFileAtomic(filepath.Join(cfg.Data, devnetStateFile), devnetStateText(st), 0o600); err != nil {
		return nil, id, err
	}
	return dn, id, nil
}

// devnetIdentity loads DIR's identity, creating it on first start.
func devnetIdentity(dir string) (identity, error) {
	name, err := existingIdentity(dir)
	if err != nil {
		return identity{}, err
	}
	if name != "" {
		return loadIdentity(dir)
	}
	id, err := newIdentity(shard.Seed{})
	if err != nil {
		return id, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return id, err
	}
	return id, writeIdentity(dir, id)
}

// devnetNodeKey loads dir/node.key, creating it (and dir) if absent.
func devnetNodeKey(dir string) (shard.PrivateKey, error) {
	p := filepath.Join(dir, nodeKeyFile)
	if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
		return loadNodeKey(p)
	}
	k, err := shard.GeneratePrivateKey(rand.Reader)
	if err != nil {
		return k, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return k, err
	}
	return k, writeNewFile(p, k.Seed())
}

func devnetStateText(st *devnetState) []byte {
	var b bytes.Buffer
	b.WriteString("# Written by `ishtar devnet`: the addresses chosen at first start, kept so\n")
	b.WriteString("# that a restart finds every node (and object) where it was.\n")
	_ = toml.NewEncoder(&b).Encode(st) // plain strings and ints: cannot fail
	return b.Bytes()
}

// writeFileAtomic replaces path with b (temporary file, fsync, rename).
func writeFileAtomic(path string, b []byte, mode fs.FileMode) error {
	tmp := path + ".tmp"
	_ = os.Remove(tmp)
	if err := writeNewFile(tmp, b); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// devnetReady runs once every server is up: it makes the demo bucket,
// writes DIR/devnet.env and prints the endpoint and keys.
func devnetReady(ctx context.Context, e *env, dn *devnet, id identity, cfg *Config, st *devnetState, log *slog.Logger) error {
	d := dn.gw
	if err := d.Gateway().CreateBucket(ctx, devnetBucket); err != nil && !isBucketExists(err) {
		return fmt.Errorf("create bucket %s: %w", devnetBucket, err)
	}
	region := cfg.S3.Region
	envText := fmt.Sprintf("export AWS_ACCESS_KEY_ID=%s\nexport AWS_SECRET_ACCESS_KEY=%s\nexport AWS_REGION=%s\nexport ISHTAR_S3_ENDPOINT=%s\n",
		id.creds.AccessKeyID, id.creds.SecretAccessKey, region, d.S3URL())
	if d.AdminURL() != "" {
		envText += fmt.Sprintf("export ISHTAR_ADMIN_URL=%s\n", d.AdminURL())
	}
	envPath := filepath.Join(cfg.Data, devnetEnvFile)
	if err := writeFileAtomic(envPath, []byte(envText), 0o600); err != nil {
		return err
	}
	w := e.stdout
	fmt.Fprintf(w, "S3 endpoint:   %s\n", d.S3URL())
	fmt.Fprintf(w, "Access key:    %s\n", id.creds.AccessKeyID)
	fmt.Fprintf(w, "Secret key:    %s\n", id.creds.SecretAccessKey)
	fmt.Fprintf(w, "Region:        %s\n", region)
	fmt.Fprintf(w, "Network:       %d storage nodes (+ the gateway's own), %s, %d of them reachable\n",
		len(dn.storage), codeText(cfg.GatewayConfig(shard.PublicKey{})), len(d.Peers()))
	if d.AdminURL() != "" {
		fmt.Fprintf(w, "Status page:   %s/\n", d.AdminURL())
	}
	fmt.Fprintf(w, "Data:          %s\n", cfg.Data)
	fmt.Fprintf(w, "Environment:   . %s\n", envPath)
	fmt.Fprintf(w, "Try:           aws --endpoint-url %s s3 cp FILE s3://%s/\n", d.S3URL(), devnetBucket)
	log.Info("devnet ready", "s3", d.S3URL(), "nodes", slices.Clone(st.Nodes), "data", cfg.Data)
	return nil
}

// isBucketExists reports an error saying the bucket exists already.
func isBucketExists(err error) bool {
	var se *s3api.Error
	return errors.As(err, &se) && (se.Code == "BucketAlreadyOwnedByYou" || se.Code == "BucketAlreadyExists")
}

// codeText names the code of new segments: k and n, or both codes when
// the code depends on the network's size.
func codeText(gc gateway.Config) string {
	p, f := gc.Params, gc.Fallback
	if f.N == 0 || f.N >= p.N {
		return fmt.Sprintf("k=%d n=%d", p.K, p.N)
	}
	places := "peers"
	if gc.AddressDiversity {
		places = "peers in distinct address blocks"
	}
	return fmt.Sprintf("k=%d n=%d (k=%d n=%d from %d %s)", f.K, f.N, p.K, p.N, p.N, places)
}
