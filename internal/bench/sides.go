package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/hibiken/asynq"

	"github.com/msgdispatch/msgdispatch/internal/catalog"
	"github.com/msgdispatch/msgdispatch/internal/tokenstore"
	"github.com/msgdispatch/msgdispatch/producer"
	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/worker"
)

// sender enqueues message seq of a side.
type sender func(ctx context.Context, seq int) error

// side is one of the two things compared: it starts its consumers and
// returns how to enqueue and how to stop.
type side struct {
	name   string
	letter byte
	start  func(ctx context.Context, e *env) (sender, func(), error)
}

// pipelineSide is the dispatcher: the real producer and the real worker.
var pipelineSide = side{name: "pipeline", letter: 'p', start: func(ctx context.Context, e *env) (sender, func(), error) {
	w, err := worker.New(worker.Options{Config: e.cfg, Redis: e.rdb, Logger: e.o.Logger})
	if err != nil {
		return nil, nil, fmt.Errorf("bench: worker: %w", err)
	}
	if err := w.Start(); err != nil {
		return nil, nil, fmt.Errorf("bench: worker: %w", err)
	}
	p := producer.New(e.cfg, e.rdb)
	send := func(ctx context.Context, seq int) error {
		if _, err := p.Send(ctx, e.message('p', seq), producer.Queue(e.queue)); err != nil {
			return fmt.Errorf("bench: pipeline: send %d: %w", seq, err)
		}
		return nil
	}
	return send, w.Shutdown, nil
}}

// baselineType is the task type of the baseline.
const baselineType = "bench:send"

// baselineSide is bare asynq: a task carrying the part the provider rendered,
// a handler sending it with the provider's own client (same body bytes,
// token and signature) to the same simulator, with the same servers,
// concurrency, queues and task check interval as the worker.
var baselineSide = side{name: "baseline", letter: 'b', start: func(ctx context.Context, e *env) (sender, func(), error) {
	wc := e.cfg.Worker
	prov, err := catalog.New(e.app, e.cfg.Apps[e.app], catalog.Deps{
		Redis:  e.rdb,
		Tokens: tokenstore.New(e.rdb, tokenstore.Options{Local: true}),
		HTTP:   httpClient(wc.Concurrency * wc.Servers),
		Logger: e.o.Logger,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("bench: baseline provider: %w", err)
	}
	mux := asynq.NewServeMux()
	mux.HandleFunc(baselineType, func(ctx context.Context, t *asynq.Task) error {
		var part providers.Part
		if err := json.Unmarshal(t.Payload(), &part); err != nil {
			return fmt.Errorf("bench: baseline: %w: %w", err, asynq.SkipRetry)
		}
		_, err := prov.Send(ctx, &part)
		return err
	})
	var servers []*asynq.Server
	stop := func() {
		for _, s := range servers {
			s.Shutdown()
		}
	}
	for range wc.Servers {
		srv := asynq.NewServerFromRedisClient(e.rdb, asynq.Config{
			Concurrency:              wc.Concurrency,
			Queues:                   wc.Queues,
			TaskCheckInterval:        wc.TaskCheckInterval,
			DelayedTaskCheckInterval: wc.DelayedTaskCheckInterval,
			ShutdownTimeout:          wc.ShutdownTimeout,
			LogLevel:                 asynq.ErrorLevel,
		})
		if err := srv.Start(mux); err != nil {
			stop()
			return nil, nil, fmt.Errorf("bench: baseline server: %w", err)
		}
		servers = append(servers, srv)
	}
	cl := asynq.NewClientFromRedisClient(e.rdb)
	send := func(ctx context.Context, seq int) error {
		msg := e.message('b', seq)
		id := e.app + ".b" + strconv.Itoa(seq)
		parts, err := prov.Prepare(ctx, &msg, providers.PrepareOptions{MessageID: id})
		if err != nil {
			return fmt.Errorf("bench: baseline: prepare %d: %w", seq, err)
		}
		for _, part := range parts {
			payload, err := json.Marshal(&part)
			if err != nil {
				return fmt.Errorf("bench: baseline: %w", err)
			}
			if _, err := cl.EnqueueContext(ctx, asynq.NewTask(baselineType, payload), asynq.Queue(e.queue),
				asynq.TaskID(id+"/"+strconv.Itoa(part.Index))); err != nil {
				return fmt.Errorf("bench: baseline: enqueue %d: %w", seq, err)
			}
		}
		return nil
	}
	return send, stop, nil
}}

// httpClient is the worker's default client: as many idle connections per
// host as tasks run at once.
func httpClient(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        max(conns, 100),
		MaxIdleConnsPerHost: max(conns, 2),
		IdleConnTimeout:     90 * time.Second,
	}}
}
