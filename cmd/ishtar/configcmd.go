package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/BurntSushi/toml"
)

// runConfig prints the effective configuration as TOML: every setting
// after defaults, the file, the environment and flags. The output is a
// valid ishtar.toml.
func runConfig(_ context.Context, e *env, args []string) error {
	l := newLoader("config", nil, e.lookupEnv)
	if err := l.parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printFlags(e.stdout, l.fs, "[--data DIR] [--config FILE] [flags]")
		}
		return err
	}
	if l.fs.NArg() > 0 {
		return usageErrorf("config: unexpected argument %q", l.fs.Arg(0))
	}
	cfg, err := l.load()
	if err != nil {
		return err
	}
	if err := toml.NewEncoder(e.stdout).Encode(configTree(&cfg)); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// configTree returns c as nested tables keyed like the TOML file.
func configTree(c *Config) map[string]any {
	root := make(map[string]any)
	for _, s := range settings {
		m := root
		parts := strings.Split(s.key, ".")
		for _, p := range parts[:len(parts)-1] {
			sub, ok := m[p].(map[string]any)
			if !ok {
				sub = make(map[string]any)
				m[p] = sub
			}
			m = sub
		}
		m[parts[len(parts)-1]] = s.get(c)
	}
	return root
}
