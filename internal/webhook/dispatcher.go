package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/internal/record"
)

// Group is the Redis consumer group of the pumps on each app's events stream.
const Group = "msgd-webhooks"

// Options configure a Dispatcher.
type Options struct {
	// Config holds api.webhooks and the apps. Required.
	Config *config.Config
	// Redis is the dispatcher's Redis. Required; not closed.
	Redis redis.UniversalClient
	// Logger receives the dispatcher's logs. Default: discard.
	Logger *slog.Logger
	// HTTP posts the deliveries. Default: a client with api.webhooks.timeout.
	HTTP *http.Client
	// Now is the clock of the signatures. Default time.Now.
	Now func() time.Time
	// Concurrency is how many deliveries run at once. Default 10.
	Concurrency int
	// ClaimIdle is how long an event read by a pump that died stays pending
	// before another pump takes it over. Default 1m.
	ClaimIdle time.Duration
}

// Dispatcher runs the pumps (events → delivery tasks) and the asynq server
// that delivers.
type Dispatcher struct {
	opts     Options
	w        config.Webhooks
	log      *slog.Logger
	apps     []string
	enqueuer *asynq.Client
	srv      *asynq.Server
	consumer string

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New builds a Dispatcher; it returns nil when no webhook is configured.
func New(opts Options) (*Dispatcher, error) {
	if opts.Config == nil || opts.Redis == nil {
		return nil, fmt.Errorf("webhook: Config and Redis are required")
	}
	w := opts.Config.API.Webhooks
	if !w.On() {
		return nil, nil
	}
	d := &Dispatcher{opts: opts, w: w, log: opts.Logger, enqueuer: asynq.NewClientFromRedisClient(opts.Redis)}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.opts.Now == nil {
		d.opts.Now = time.Now
	}
	if d.w.MaxAttempts == 0 {
		d.w.MaxAttempts = defaultAttempts
	}
	if d.w.MaxBackoff == 0 {
		d.w.MaxBackoff = defaultBackoff
	}
	if d.w.Timeout == 0 {
		d.w.Timeout = defaultTimeout
	}
	if d.opts.HTTP == nil {
		d.opts.HTTP = &http.Client{Timeout: d.w.Timeout}
	}
	if d.opts.Concurrency == 0 {
		d.opts.Concurrency = 10
	}
	if d.opts.ClaimIdle == 0 {
		d.opts.ClaimIdle = time.Minute
	}
	for name := range opts.Config.Apps {
		if w.AllowMessageURLs || len(w.URLs[name]) > 0 {
			d.apps = append(d.apps, name)
		}
	}
	slices.Sort(d.apps)
	host, _ := os.Hostname()
	d.consumer = fmt.Sprintf("%s-%d-%08x", host, os.Getpid(), rand.Uint32())
	maxBackoff := d.w.MaxBackoff
	d.srv = asynq.NewServerFromRedisClient(opts.Redis, asynq.Config{
		Concurrency:              d.opts.Concurrency,
		Queues:                   map[string]int{Queue: 1},
		TaskCheckInterval:        100 * time.Millisecond,
		DelayedTaskCheckInterval: time.Second,
		ShutdownTimeout:          d.w.Timeout + time.Second,
		RetryDelayFunc: func(n int, _ error, _ *asynq.Task) time.Duration {
			return backoff(n, maxBackoff)
		},
		LogLevel: asynq.FatalLevel, // failures are logged by ErrorHandler
		ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
			d.log.Warn("webhook delivery failed; asynq retries it", "err", err)
		}),
	})
	return d, nil
}

// backoff is 1s·2ⁿ, at most max, with up to 20% jitter.
func backoff(n int, maxD time.Duration) time.Duration {
	d := time.Second << min(n, 20)
	d = min(d, maxD)
	return d - time.Duration(rand.Int64N(int64(d)/5+1))
}

// Apps are the apps whose events are pumped.
func (d *Dispatcher) Apps() []string { return d.apps }

// Start creates the consumer groups (at the end of each stream: events from
// then on) and starts the pumps and the delivery server.
func (d *Dispatcher) Start() error {
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	for _, app := range d.apps {
		err := d.opts.Redis.XGroupCreateMkStream(ctx, record.EventsKey(app), Group, "$").Err()
		if err != nil && !strings.Contains(err.Error(), "BUSYGROUP") {
			cancel()
			return fmt.Errorf("webhook: consumer group of %s: %w", app, err)
		}
	}
	mux := asynq.NewServeMux()
	mux.Handle(TypeDeliver, &deliverer{secret: []byte(d.w.Secret), http: d.opts.HTTP, now: d.opts.Now})
	if err := d.srv.Start(mux); err != nil {
		cancel()
		return fmt.Errorf("webhook: start: %w", err)
	}
	for _, app := range d.apps {
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			d.pump(ctx, app)
		}()
	}
	return nil
}

// Shutdown stops the pumps and the delivery server (deliveries in flight
// finish or are retried later).
func (d *Dispatcher) Shutdown() {
	if d.cancel != nil {
		d.cancel()
	}
	d.wg.Wait()
	d.srv.Shutdown()
}

// pump moves app's events into delivery tasks until ctx ends: it first takes
// over events a dead pump left pending, then reads new ones.
func (d *Dispatcher) pump(ctx context.Context, app string) {
	key := record.EventsKey(app)
	lastClaim := time.Time{}
	for ctx.Err() == nil {
		if time.Since(lastClaim) > d.opts.ClaimIdle/2 {
			lastClaim = time.Now()
			msgs, _, err := d.opts.Redis.XAutoClaim(ctx, &redis.XAutoClaimArgs{Stream: key, Group: Group, Consumer: d.consumer,
				MinIdle: d.opts.ClaimIdle, Start: "0-0", Count: 100}).Result()
			if err == nil {
				d.handle(ctx, app, msgs)
			}
		}
		streams, err := d.opts.Redis.XReadGroup(ctx, &redis.XReadGroupArgs{Group: Group, Consumer: d.consumer,
			Streams: []string{key, ">"}, Count: 100, Block: time.Second}).Result()
		if err != nil {
			if errors.Is(err, redis.Nil) || ctx.Err() != nil {
				continue
			}
			d.log.Warn("webhook: reading events failed", "app", app, "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		for _, s := range streams {
			d.handle(ctx, app, s.Messages)
		}
	}
}

// handle enqueues the deliveries of msgs and acknowledges each event whose
// deliveries are all enqueued; the others stay pending and are claimed again.
func (d *Dispatcher) handle(ctx context.Context, app string, msgs []redis.XMessage) {
	for _, m := range msgs {
		if err := d.enqueue(ctx, app, m); err != nil {
			d.log.Warn("webhook: enqueue failed; the event stays pending", "app", app, "event", m.ID, "err", err)
			continue
		}
		if err := d.opts.Redis.XAck(ctx, record.EventsKey(app), Group, m.ID).Err(); err != nil {
			d.log.Warn("webhook: ack failed", "app", app, "event", m.ID, "err", err)
		}
	}
}

// enqueue enqueues one delivery of event m per URL that wants it.
func (d *Dispatcher) enqueue(ctx context.Context, app string, m redis.XMessage) error {
	urls := slices.Clone(d.w.URLs[app])
	mid, _ := m.Values["message_id"].(string)
	if d.w.AllowMessageURLs && mid != "" {
		u, err := messageURL(ctx, d.opts.Redis, app, mid)
		if err != nil {
			return err
		}
		if u != "" && !slices.Contains(urls, u) {
			urls = append(urls, u)
		}
	}
	if len(urls) == 0 {
		return nil
	}
	ev := map[string]any{"stream_id": m.ID}
	for k, v := range m.Values {
		ev[k] = v
	}
	eventID, _ := m.Values["event_id"].(string)
	if eventID == "" {
		eventID = app + "/" + m.ID
		ev["event_id"] = eventID
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("webhook: event %s: %w", eventID, err)
	}
	for _, u := range urls {
		payload, err := json.Marshal(delivery{EventID: eventID, App: app, URL: u, Body: body})
		if err != nil {
			return fmt.Errorf("webhook: event %s: %w", eventID, err)
		}
		_, err = d.enqueuer.EnqueueContext(ctx, asynq.NewTask(TypeDeliver, payload), asynq.Queue(Queue),
			asynq.TaskID(taskID(eventID, u)), asynq.MaxRetry(d.w.MaxAttempts-1), asynq.Retention(retention), asynq.Timeout(d.w.Timeout+time.Second))
		if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			return fmt.Errorf("webhook: enqueue event %s: %w", eventID, err)
		}
	}
	return nil
}
