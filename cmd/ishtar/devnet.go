package main

import (
	"context"
	"errors"
)

func runDevnet(ctx context.Context, e *env, args []string) error {
	return errors.New("devnet: not yet available")
}
