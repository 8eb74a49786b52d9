// Command dispatcher is msgdispatch's one binary.
//
//	dispatcher dev                       everything in one process, no setup
//	dispatcher worker --config F         consume and send jobs
//	dispatcher send   --config F ...     enqueue a message, print its id
//	dispatcher status --config F ID      print a message's delivery record
//	dispatcher update --config F ID ...  give a message new content
//	dispatcher cancel --config F ID      cancel a message, recall what was sent
//	dispatcher api    --config F         serve provider callbacks, /metrics, /healthz, /readyz
//	dispatcher tenant add|list|remove    manage the tenants of a multi-tenant app
//	dispatcher bench                     the dispatcher against bare asynq, side by side
//	dispatcher quota audit --config F    the peak use of an app's quota windows per recipient
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/redis/go-redis/v9"
)

const usage = `usage: dispatcher <command> [flags]

commands:
  dev      run everything in one process: embedded Redis, WeCom simulator,
           worker and dashboard, and send demo messages
  worker   consume send jobs; serve /metrics, /healthz, /readyz (--config F)
  send     enqueue a message and print its id (--config F --app A --to-user ...)
  status   print a message's delivery record as JSON (--config F ID)
  update   give a message new content, print its update number (--config F ID --card @f | --text T | ...)
  cancel   cancel a message, recall what was sent, print each part's outcome (--config F ID)
  api      serve provider callbacks (/callbacks/wecom/{app}), /metrics, /healthz and /readyz (--config F)
  tenant   add, list or remove the tenants of a multi-tenant app (--config F --app A ...)
  bench    measure throughput and latency against bare asynq, side by side (-n N -servers S ...)
  quota    audit: the peak use of an app's quota windows per recipient (--config F --app A --from T)

Run "dispatcher <command> -h" for the usage, flags and an example of a command.
Flags and arguments may come in any order; a stray argument is an error.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "dispatcher:", err)
		os.Exit(2)
	}
}

// run dispatches to a subcommand; it is main without the process around it.
// -h is no error: it returns nil once the usage is printed.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	redis.SetLogger(quietRedisLog{}) // a failed dial is reported once, by the command
	if err := dispatch(ctx, args, stdout, stderr); err != nil && !isHelp(err) {
		return err
	}
	return nil
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "dev":
		return runDev(ctx, rest, stdout, stderr)
	case "worker":
		return runWorker(ctx, rest, stdout, stderr)
	case "send":
		return runSend(ctx, rest, stdout, stderr)
	case "status":
		return runStatus(ctx, rest, stdout, stderr)
	case "update":
		return runUpdate(ctx, rest, stdout, stderr)
	case "cancel":
		return runCancel(ctx, rest, stdout, stderr)
	case "api":
		return runAPI(ctx, rest, stdout, stderr)
	case "tenant":
		return runTenant(ctx, rest, stdout, stderr)
	case "bench":
		return runBench(ctx, rest, stdout, stderr)
	case "quota":
		return runQuota(ctx, rest, stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}
