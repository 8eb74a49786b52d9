package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/msgdispatch/msgdispatch/producer"
)

var cancelCommand = command{
	name:     "cancel",
	synopsis: "--config F ID",
	args:     []string{"ID"},
	notes:    "Cancels message ID, recalls the parts already sent, and prints each part's outcome. ID may come before or after the flags.",
	example:  "dispatcher cancel --config config.yaml hr-bot.01JDXQ3M8Z6W5Y4T3R2P1N0K9H",
}

// runCancel is "dispatcher cancel --config F ID": it cancels message ID and
// prints the outcome of each part (cancelled, recalled, sent).
func runCancel(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("cancel", flag.ContinueOnError)
	path := fs.String("config", "", "config file (required)")
	pos, err := cancelCommand.parse(fs, args, stdout)
	if err != nil {
		return err
	}
	if *path == "" {
		return missingConfig(&cancelCommand)
	}
	id := pos[0]
	var o *producer.CancelResult
	if err := withMessage(ctx, *path, "cancel", id, func(c *producer.Client) (err error) {
		o, err = c.Cancel(ctx, id)
		return cliError("cancel", id, err)
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
