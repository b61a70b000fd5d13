package main

import (
	"context"
	"errors"
)

func runUpload(ctx context.Context, e *env, args []string) error {
	return errors.New("upload: not yet available")
}
func runDownload(ctx context.Context, e *env, args []string) error {
	return errors.New("download: not yet available")
}
func runList(ctx context.Context, e *env, args []string) error {
	return errors.New("list: not yet available")
}
