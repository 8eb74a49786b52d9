package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/msgdispatch/msgdispatch/producer"
)

// runUpdate is "dispatcher update --config F ID (--card @f | --text T |
// --markdown M | --raw @f | --button T)": it enqueues new content for message
// ID and prints its update sequence number.
func runUpdate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("update", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		path    = fs.String("config", "", "config file (required)")
		content = addContentFlags(fs, true)
	)
	if err := fs.Parse(reorder(args)); err != nil {
		return err
	}
	const use = "update: usage: dispatcher update --config F ID (--card @file.json | --text T | --markdown M | --raw @file.json | --button T)"
	if *path == "" || fs.NArg() != 1 {
		return fmt.Errorf(use)
	}
	var c producer.Content
	var err error
	if c.Kind, c.Text, c.Body, err = content.content("update"); err != nil {
		return err
	}
	var seq int64
	if err := withProducer(ctx, *path, func(pc *producer.Client) (err error) {
		seq, err = pc.Update(ctx, fs.Arg(0), c)
		return err
	}); err != nil {
		return err
	}
	fmt.Fprintln(stdout, seq)
	return nil
}

// reorder moves the positional arguments after the flags, so that
// "update ID --text T" works like "update --text T ID".
func reorder(args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			pos = append(pos, args[i+1:]...)
			i = len(args)
		case len(a) > 1 && a[0] == '-':
			flags = append(flags, a)
			if !containsRune(a, '=') && i+1 < len(args) {
				flags = append(flags, args[i+1])
				i++
			}
		default:
			pos = append(pos, a)
		}
	}
	return append(flags, pos...)
}

func containsRune(s string, r rune) bool {
	for _, c := range s {
		if c == r {
			return true
		}
	}
	return false
}
