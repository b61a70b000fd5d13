package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// loader builds a Config from its layers for one command: Defaults, then
// the TOML file (--config, ISHTAR_CONFIG, or DATA/ishtar.toml if present),
// then ISHTAR_* environment variables, then flags. Each layer replaces
// whole values (a list from a higher layer replaces the lower one).
type loader struct {
	fs        *flag.FlagSet
	lookupEnv func(string) (string, bool)
	config    string          // --config
	given     []flagArg       // setting flags, in the order given
	set       map[string]bool // settings given by the file or environment
	// defaultData, if set, replaces the default data directory.
	defaultData string
}

type flagArg struct {
	s setting
	v string
}

// newLoader returns a loader whose flag set has --config and a flag for
// each setting in keys (all settings with a flag when keys is nil).
func newLoader(name string, keys []string, lookupEnv func(string) (string, bool)) *loader {
	l := &loader{fs: flag.NewFlagSet(name, flag.ContinueOnError), lookupEnv: lookupEnv, set: make(map[string]bool)}
	l.fs.SetOutput(io.Discard)
	l.fs.StringVar(&l.config, "config", "", "TOML configuration `FILE` (default DATA/ishtar.toml if present)")
	for _, s := range settings {
		if s.flag == "" || (keys != nil && !slices.Contains(keys, s.key)) {
			continue
		}
		l.fs.Var(recorder{l, s}, s.flag, s.usage)
	}
	return l
}

// recorder is a flag.Value that records the value for the flags layer.
type recorder struct {
	l *loader
	s setting
}

func (r recorder) String() string   { return "" }
func (r recorder) IsBoolFlag() bool { return r.s.isBool }
func (r recorder) Set(v string) error {
	r.l.given = append(r.l.given, flagArg{r.s, v})
	r.l.set[r.s.key] = true
	return nil
}

// parse parses args; errors are usage errors. A --tracker with no URL
// after it is --tracker-mode (`ishtar serve --tracker` runs a tracker).
func (l *loader) parse(args []string) error {
	args = append([]string(nil), args...)
	for i, a := range args {
		if a == "--" {
			break
		}
		if (a == "--tracker" || a == "-tracker") && (i+1 == len(args) || strings.HasPrefix(args[i+1], "-")) {
			args[i] = "--tracker-mode"
		}
	}
	if err := l.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageErrorf("%s: %v", l.fs.Name(), err)
	}
	return nil
}

// load builds and validates the Config.
func (l *loader) load() (Config, error) {
	var c Config
	c.Defaults()
	if l.defaultData != "" {
		c.Data = l.defaultData
	}
	path, explicit, err := l.configPath(c.Data)
	if err != nil {
		return c, err
	}
	if path != "" {
		if err := l.applyFile(&c, path, explicit); err != nil {
			return c, err
		}
	}
	for _, s := range settings {
		v, ok := l.lookupEnv(s.env())
		if !ok || v == "" {
			continue
		}
		vals := []string{v}
		if s.list {
			vals = splitList(v)
		}
		if err := s.set(&c, vals); err != nil {
			return c, fmt.Errorf("%s: %w", s.env(), err)
		}
		l.set[s.key] = true
	}
	for key, vals := range l.flagValues() {
		s, _ := findSetting(key)
		if err := s.set(&c, vals); err != nil {
			return c, usageErrorf("--%s: %v", s.flag, err)
		}
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	return c, nil
}

// isSet reports whether setting key was given (by a flag, the
// environment or the file) rather than defaulted; valid after load.
func (l *loader) isSet(key string) bool { return l.set[key] }

// flagGiven reports whether the flag name was on the command line.
func (l *loader) flagGiven(name string) bool {
	found := false
	l.fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}

// flagValues groups the given flags by setting key, keeping order.
func (l *loader) flagValues() map[string][]string {
	m := make(map[string][]string)
	for _, a := range l.given {
		m[a.s.key] = append(m[a.s.key], a.v)
	}
	return m
}

// value returns the value of key from flags, then environment, else def;
// it is for settings needed before the file is read.
func (l *loader) value(key, def string) string {
	if vals := l.flagValues()[key]; len(vals) > 0 {
		return vals[len(vals)-1]
	}
	s, _ := findSetting(key)
	if v, ok := l.lookupEnv(s.env()); ok && v != "" {
		return v
	}
	return def
}

// configPath finds the TOML file: --config, ISHTAR_CONFIG, or
// DATA/ishtar.toml when it exists. explicit files must exist.
func (l *loader) configPath(defData string) (path string, explicit bool, err error) {
	if l.config != "" {
		return l.config, true, nil
	}
	if v, ok := l.lookupEnv("ISHTAR_CONFIG"); ok && v != "" {
		return v, true, nil
	}
	data := l.value("data", defData)
	if data == "" {
		return "", false, nil
	}
	p := filepath.Join(data, configFile)
	if _, err := os.Stat(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", false, nil
		}
		return "", false, fmt.Errorf("config: %w", err)
	}
	return p, false, nil
}

// applyFile applies the TOML file at path to c. Unknown keys are errors.
func (l *loader) applyFile(c *Config, path string, explicit bool) error {
	var doc map[string]any
	_, err := toml.DecodeFile(path, &doc)
	switch {
	case errors.Is(err, fs.ErrNotExist) && explicit:
		return fmt.Errorf("config: %s does not exist", path)
	case err != nil:
		return fmt.Errorf("config: %s: %s", path, oneLine(err.Error()))
	}
	flat := make(map[string]any)
	flatten("", doc, flat)
	for _, key := range slices.Sorted(maps.Keys(flat)) {
		s, ok := findSetting(key)
		if !ok {
			return fmt.Errorf("config: %s: unknown setting %q", path, key)
		}
		vals, err := tomlStrings(flat[key], s.list)
		if err == nil {
			err = s.set(c, vals)
		}
		if err != nil {
			return fmt.Errorf("config: %s: %s: %w", path, key, err)
		}
		l.set[key] = true
	}
	return nil
}

// flatten turns nested tables into dotted keys.
func flatten(prefix string, m map[string]any, out map[string]any) {
	for k, v := range m {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		if sub, ok := v.(map[string]any); ok {
			flatten(key, sub, out)
			continue
		}
		out[key] = v
	}
}

// tomlStrings turns a TOML value into the strings a setting parses.
func tomlStrings(v any, list bool) ([]string, error) {
	if ss, ok := v.([]string); ok {
		v = anySlice(ss)
	}
	if arr, ok := v.([]any); ok {
		if !list {
			return nil, errors.New("must be a single value, not an array")
		}
		out := make([]string, 0, len(arr))
		for _, e := range arr {
			s, err := tomlScalar(e)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}
	s, err := tomlScalar(v)
	if err != nil {
		return nil, err
	}
	return []string{s}, nil
}

func tomlScalar(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case int:
		return strconv.Itoa(v), nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case bool:
		return strconv.FormatBool(v), nil
	}
	return "", fmt.Errorf("unsupported value of type %T", v)
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// oneLine folds a multi-line message (TOML parse errors) into one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func anySlice(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
