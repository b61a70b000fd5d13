package main

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// runList prints the objects of the bucket under PREFIX, one a line:
// modification time (UTC), size in bytes, key.
func runList(ctx context.Context, e *env, args []string) error {
	f := newFileFlags("list", e)
	if err := f.parse(e, args, "[flags] [PREFIX]", 0, 1); err != nil {
		return err
	}
	c, err := f.client(e)
	if err != nil {
		return fmt.Errorf("list: %w", err)
	}
	prefix := f.l.fs.Arg(0)
	err = c.listObjects(ctx, f.bucket, prefix, func(o objectEntry) error {
		_, err := fmt.Fprintf(e.stdout, "%s %12d %s\n", o.LastModified.UTC().Format(time.DateTime), o.Size, o.Key)
		return err
	})
	var se *s3Error
	if errors.As(err, &se) && se.Code == "NoSuchBucket" && f.bucket == defaultBucket {
		// A fresh install: the first upload makes the bucket.
		_, err := fmt.Fprintf(e.stderr, "ishtar list: nothing is stored yet (`ishtar upload FILE` stores a file)\n")
		return err
	}
	if err != nil {
		return fmt.Errorf("list: %s: %w", s3URL(f.bucket, prefix), err)
	}
	return nil
}
