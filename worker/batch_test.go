package worker

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/redistest"
)

// holdFirst is a go-redis hook that stops the first pipeline before it
// leaves until release is closed, so that callers arriving meanwhile queue
// up; it notes how many commands each pipeline carried.
type holdFirst struct {
	once    sync.Once
	held    chan struct{}
	release chan struct{}

	mu    sync.Mutex
	sizes []int
}

func (h *holdFirst) pipelines() []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.sizes)
}

func (h *holdFirst) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *holdFirst) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return next
}
func (h *holdFirst) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if n := strings.ToLower(cmds[0].Name()); n == "hello" || n == "client" {
			return next(ctx, cmds) // a new connection's handshake
		}
		h.mu.Lock()
		h.sizes = append(h.sizes, len(cmds))
		h.mu.Unlock()
		first := false
		h.once.Do(func() { first = true })
		if first {
			close(h.held)
			<-h.release
		}
		return next(ctx, cmds)
	}
}

var _ redis.Hook = (*holdFirst)(nil)

// Callers that reach Redis while a round trip is in flight leave together in
// the next one, each reading its own commands' outcomes (a failing command
// fails only its caller), in the order it queued them.
func TestBatcherMergesConcurrentPipelines(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.Start(t).Client()
	h := &holdFirst{held: make(chan struct{}), release: make(chan struct{})}
	rdb.AddHook(h)
	b := &batcher{rdb: rdb}

	// The first caller's round trip is held in flight.
	firstErrc := make(chan error, 1)
	go func() {
		p := rdb.Pipeline()
		p.Set(ctx, "k:first", "1", 0)
		firstErrc <- b.exec(ctx, p.Cmds())
	}()
	<-h.held

	const n = 5
	type result struct {
		incr *redis.IntCmd
		get  *redis.StringCmd
		err  error
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("k:%d", i)
			p := rdb.Pipeline()
			if i == 2 {
				p.Set(ctx, key, "not a number", 0)
			}
			incr := p.Incr(ctx, key)
			get := p.Get(ctx, key)
			err := b.exec(ctx, p.Cmds())
			results[i] = result{incr: incr, get: get, err: err}
		}()
	}
	// All five wait behind the held round trip before it is let go.
	for {
		b.mu.Lock()
		waiting := len(b.pending)
		b.mu.Unlock()
		if waiting == n {
			break
		}
		runtime.Gosched()
	}
	close(h.release)
	if err := <-firstErrc; err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	// The held SET alone, then the five callers' INCR and GET (and caller
	// 2's SET) in one round trip.
	if got, want := h.pipelines(), []int{1, 2*n + 1}; !slices.Equal(got, want) {
		t.Errorf("round trips carried %v commands, want %v", got, want)
	}
	for i, r := range results {
		if i == 2 {
			if r.err == nil || r.incr.Err() == nil {
				t.Errorf("caller 2: err %v, INCR err %v; want its INCR of a string to fail", r.err, r.incr.Err())
			}
			continue
		}
		if r.err != nil || r.incr.Val() != 1 || r.get.Val() != "1" {
			t.Errorf("caller %d: err %v, INCR %d, GET %q; want nil, 1, \"1\"", i, r.err, r.incr.Val(), r.get.Val())
		}
	}
}

// A caller alone takes one round trip at once, and a failed connection
// reaches every caller as an error, never as a silent empty reply.
func TestBatcherAloneAndFailing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := redistest.Start(t)
	rdb := srv.Client()
	h := &holdFirst{held: make(chan struct{}), release: make(chan struct{})}
	close(h.release) // nothing held
	rdb.AddHook(h)
	b := &batcher{rdb: rdb}
	p := rdb.Pipeline()
	set := p.Set(ctx, "k", "v", 0)
	if err := b.exec(ctx, p.Cmds()); err != nil || set.Val() != "OK" || !slices.Equal(h.pipelines(), []int{1}) {
		t.Fatalf("alone: err %v, SET %q, round trips of %v commands; want nil, OK, [1]", err, set.Val(), h.pipelines())
	}

	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { dead.Close() })
	b = &batcher{rdb: dead}
	p = dead.Pipeline()
	get := p.Get(ctx, "k")
	if err := b.exec(ctx, p.Cmds()); err == nil || get.Err() == nil {
		t.Errorf("unreachable Redis: err %v, GET err %v; want both to fail", err, get.Err())
	}
}
