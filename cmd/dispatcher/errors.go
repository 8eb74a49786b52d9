package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/providers"
)

// quietRedisLog drops go-redis's own log lines (each failed dial of its
// retries): the command reports the failure itself, in one line.
type quietRedisLog struct{}

func (quietRedisLog) Printf(context.Context, string, ...any) {}

// flagOf maps the fields of producer validation errors to the flags that set
// them.
var flagOf = map[string]string{
	"app":             "--app",
	"tenant":          "--tenant",
	"queue":           "--queue",
	"idempotency_key": "--key",
	"not_before":      "--at",
	"expires_at":      "--expires",
}

// cliError turns an error of the producer into the one line the command
// prints: a validation error as "<cmd>: <field>: <reason> (<flag>)", an
// unknown message as "<cmd>: no message <id> …", without the layers of
// prefixes the library adds for its own callers. Other errors are returned
// as they are: they name the operation and the message.
func cliError(cmd, id string, err error) error {
	if err == nil {
		return nil
	}
	var ve *providers.ValidationError
	switch {
	case errors.As(err, &ve):
		if f, ok := flagOf[ve.Field]; ok {
			return fmt.Errorf("%s: %s (%s)", cmd, ve.Error(), f)
		}
		return fmt.Errorf("%s: %s", cmd, ve.Error())
	case errors.Is(err, record.ErrNotFound):
		return fmt.Errorf("%s: no message %s (it was never sent, or its record expired)", cmd, id)
	}
	return err // the producer's error names the operation and the message
}
