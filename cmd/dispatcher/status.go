package main

import (
	"context"
	"encoding/json"
	"flag"
	"io"

	"github.com/msgdispatch/msgdispatch/producer"
)

var statusCommand = command{
	name:     "status",
	synopsis: "--config F ID",
	args:     []string{"ID"},
	notes:    "Prints the delivery record of message ID as JSON. ID may come before or after the flags.",
	example:  "dispatcher status --config config.yaml hr-bot.01JDXQ3M8Z6W5Y4T3R2P1N0K9H",
}

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	path := fs.String("config", "", "config file (required)")
	pos, err := statusCommand.parse(fs, args, stdout)
	if err != nil {
		return err
	}
	if *path == "" {
		return missingConfig(&statusCommand)
	}
	id := pos[0]
	var st *producer.Status
	if err := withMessage(ctx, *path, "status", id, func(c *producer.Client) (err error) {
		st, err = c.Status(ctx, id)
		return cliError("status", id, err)
	}); err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(st)
}
