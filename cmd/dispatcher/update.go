package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/msgdispatch/msgdispatch/producer"
)

var updateCommand = command{
	name:     "update",
	synopsis: "--config F ID (--card @file.json | --text T | --markdown M | --raw @file.json | --kind K --body @file.json | --button T)",
	args:     []string{"ID"},
	notes: "Gives message ID new content and prints its update number (1, 2, …). ID may come before or after the flags.\n" +
		"Content: exactly one of --card, --text, --markdown, --raw, --kind with --body, --button.\n" +
		"WeCom updates only cards that return a response_code (interaction cards, cards with action_menu),\n" +
		"with --card (a whole new card) or --button (the clicked button's new text); anything else is refused on kind.",
	example: "dispatcher update --config config.yaml hr-bot.01JDXQ3M8Z6W5Y4T3R2P1N0K9H --card @approved.json",
}

// runUpdate is "dispatcher update --config F ID (--card @f | --text T |
// --markdown M | --raw @f | --button T)": it enqueues new content for message
// ID and prints its update sequence number.
func runUpdate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("update", flag.ContinueOnError)
	var (
		path    = fs.String("config", "", "config file (required)")
		content = addContentFlags(fs, true)
	)
	pos, err := updateCommand.parse(fs, args, stdout)
	if err != nil {
		return err
	}
	if *path == "" {
		return missingConfig(&updateCommand)
	}
	id := pos[0]
	var c producer.Content
	if c.Kind, c.Text, c.Body, err = content.content("update"); err != nil {
		return err
	}
	var seq int64
	if err := withMessage(ctx, *path, "update", id, func(pc *producer.Client) (err error) {
		seq, err = pc.Update(ctx, id, c)
		return cliError("update", id, err)
	}); err != nil {
		return err
	}
	fmt.Fprintln(stdout, seq)
	return nil
}
