package bench

import (
	"context"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// RoundTrips is a go-redis hook that counts Redis round trips (a pipeline
// or MULTI is one), asynq's own apart: a round trip is asynq's when every
// command in it names only keys starting with "asynq:" (its keys and the
// keys its scripts are given). A command without a key (PING, SCRIPT LOAD,
// …) counts as the dispatcher's, to be safe; a new connection's handshake
// (HELLO, CLIENT SETINFO, …) is not counted. The bench and the worker's
// round-trip test count with it. Add it with AddHook; the zero value counts.
type RoundTrips struct {
	n, asynq atomic.Int64
	mu       sync.Mutex
	log      []string // the dispatcher's round trips since Reset, when logging
	logging  bool
}

// DialHook passes the dial through.
func (h *RoundTrips) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

// ProcessHook counts one command as a round trip.
func (h *RoundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.count([]redis.Cmder{cmd})
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook counts a pipeline (or MULTI) as one round trip.
func (h *RoundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.count(cmds)
		return next(ctx, cmds)
	}
}

func (h *RoundTrips) count(cmds []redis.Cmder) {
	handshake := true
	for _, c := range cmds {
		switch strings.ToLower(c.Name()) {
		case "hello", "client", "auth", "select":
		default:
			handshake = false
		}
	}
	if handshake { // a new connection's set-up, not a message's round trip
		return
	}
	h.n.Add(1)
	if !slices.ContainsFunc(cmds, func(c redis.Cmder) bool { return !IsAsynqCmd(c) }) {
		h.asynq.Add(1)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.logging {
		names := make([]string, len(cmds))
		for i, c := range cmds {
			names[i] = c.Name()
			if keys := KeysOf(c); len(keys) > 0 {
				names[i] += " " + keys[0]
			}
		}
		h.log = append(h.log, strings.Join(names, " + "))
	}
}

// Counts returns the round trips so far: all of them and asynq's own.
func (h *RoundTrips) Counts() (all, asynq int64) { return h.n.Load(), h.asynq.Load() }

// Reset zeroes the counts and starts logging the dispatcher's round trips
// (see Log).
func (h *RoundTrips) Reset() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.n.Store(0)
	h.asynq.Store(0)
	h.log, h.logging = nil, true
}

// Log returns the dispatcher's round trips since Reset, each as its
// commands and their first keys ("evalsha msgd:{app}:rec:… + zrem …").
func (h *RoundTrips) Log() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.log)
}

// KeysOf are the keys a command names: the script keys of EVAL/EVALSHA, else
// its first argument; none for commands that take no key.
func KeysOf(c redis.Cmder) []string {
	ka := keyArgs(c)
	if len(ka) == 0 {
		return nil
	}
	keys := make([]string, len(ka))
	for i, a := range ka {
		keys[i], _ = a.(string)
	}
	return keys
}

// keyArgs is the part of c's arguments that KeysOf reads the keys from: no
// copy, for IsAsynqCmd, which runs on every command the bench sends.
func keyArgs(c redis.Cmder) []any {
	args := c.Args()
	switch strings.ToLower(c.Name()) {
	case "eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro":
		if len(args) < 3 {
			return nil
		}
		n, _ := args[2].(int)
		return args[3:min(3+max(n, 0), len(args))]
	case "ping", "time", "info", "script", "client", "hello", "select", "auth", "multi", "exec":
		return nil
	}
	if len(args) < 2 {
		return nil
	}
	return args[1:2]
}

// IsAsynqCmd reports whether c is asynq's own: every key it names starts
// with "asynq:" (the frame of a MULTI counts with what it holds). The worker's
// round-trip test classifies with it too.
func IsAsynqCmd(c redis.Cmder) bool {
	switch strings.ToLower(c.Name()) {
	case "multi", "exec":
		return true // the frame of a MULTI, whatever it holds
	}
	ka := keyArgs(c)
	for _, a := range ka {
		if k, _ := a.(string); !strings.HasPrefix(k, "asynq:") {
			return false
		}
	}
	return len(ka) > 0
}
