package bench

import (
	"context"
	"net"
	"strings"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// countingHook counts Redis round trips (a pipeline or MULTI is one), asynq's
// own apart: a round trip is asynq's when every command in it names only keys
// starting with "asynq:" (its keys and the keys its scripts are given). A
// command without a key (PING, SCRIPT LOAD, …) counts as the dispatcher's;
// a new connection's handshake is not counted. It is the rule of worker's
// round-trip test.
type countingHook struct {
	n, asynq atomic.Int64
}

func (h *countingHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

func (h *countingHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.count([]redis.Cmder{cmd})
		return next(ctx, cmd)
	}
}

func (h *countingHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.count(cmds)
		return next(ctx, cmds)
	}
}

func (h *countingHook) count(cmds []redis.Cmder) {
	handshake := true
	for _, c := range cmds {
		switch strings.ToLower(c.Name()) {
		case "hello", "client", "auth", "select":
		default:
			handshake = false
		}
	}
	if handshake {
		return
	}
	h.n.Add(1)
	for _, c := range cmds {
		if !IsAsynqCmd(c) {
			return
		}
	}
	h.asynq.Add(1)
}

// snapshot returns (all, asynq's) round trips so far.
func (h *countingHook) snapshot() (int64, int64) { return h.n.Load(), h.asynq.Load() }

// KeysOf are the keys a command names: the script keys of EVAL/EVALSHA, else
// its first argument; none for commands that take no key.
func KeysOf(c redis.Cmder) []string {
	args := c.Args()
	switch strings.ToLower(c.Name()) {
	case "eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro":
		if len(args) < 3 {
			return nil
		}
		n, _ := args[2].(int)
		var keys []string
		for i := 3; i < 3+n && i < len(args); i++ {
			s, _ := args[i].(string)
			keys = append(keys, s)
		}
		return keys
	case "ping", "time", "info", "script", "client", "hello", "select", "auth", "multi", "exec":
		return nil
	}
	if len(args) < 2 {
		return nil
	}
	s, _ := args[1].(string)
	return []string{s}
}

// IsAsynqCmd reports whether c is asynq's own: every key it names starts
// with "asynq:" (the frame of a MULTI counts with what it holds). The worker's
// round-trip test classifies with it too.
func IsAsynqCmd(c redis.Cmder) bool {
	switch strings.ToLower(c.Name()) {
	case "multi", "exec":
		return true // the frame of a MULTI, whatever it holds
	}
	keys := KeysOf(c)
	if len(keys) == 0 {
		return false
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "asynq:") {
			return false
		}
	}
	return true
}
