package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/msgdispatch/msgdispatch/producer"
)

// runCancel is "dispatcher cancel --config F ID": it cancels message ID and
// prints the outcome of each part (cancelled, recalled, sent).
func runCancel(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("cancel", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "config file (required)")
	if err := fs.Parse(reorder(args)); err != nil {
		return err
	}
	if *path == "" || fs.NArg() != 1 {
		return fmt.Errorf("cancel: usage: dispatcher cancel --config F ID")
	}
	var o *producer.CancelResult
	if err := withProducer(ctx, *path, func(c *producer.Client) (err error) {
		o, err = c.Cancel(ctx, fs.Arg(0))
		return err
	}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "message %s: %s\n", o.ID, o.State)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PART\tGEN\tUSERS\tOUTCOME\tERROR")
	for _, p := range o.Parts {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%s\n", p.Index, p.Generation, p.Users, p.Outcome, p.Error)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if o.Unsent > 0 {
		fmt.Fprintf(stdout, "%d recipients not sent (quota charges released)\n", o.Unsent)
	}
	for _, e := range o.Errors {
		fmt.Fprintln(stdout, "error:", e)
	}
	return nil
}
