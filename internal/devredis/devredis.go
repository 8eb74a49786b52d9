// Package devredis runs an embedded, in-memory Redis (miniredis) for
// `dispatcher dev` and for tests on machines without redis-server.
//
// miniredis does not expire keys as wall-clock time passes: only FastForward
// does (see asynq's behaviour as measured on this project's machine). An Embedded therefore runs a clock that, every
// 100ms, fast-forwards the server by the wall time elapsed since its previous
// tick, so key TTLs (asynq leases, locks, cached tokens) behave as on a real
// Redis to within one tick.
package devredis

import (
	"fmt"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// DefaultAddr is the address Start listens on when given an empty one: a free
// loopback port.
const DefaultAddr = "127.0.0.1:0"

// TickInterval is how often an Embedded advances key TTLs by the elapsed wall
// time.
const TickInterval = 100 * time.Millisecond

// Embedded is a running in-memory Redis. Its zero value is not usable; call
// Start. Close it when done.
type Embedded struct {
	mr    *miniredis.Miniredis
	clock *ttlClock
	once  sync.Once
}

// Start starts an embedded Redis listening on addr (host:port). An empty addr,
// or "127.0.0.1:0", picks a free loopback port; read it back with Addr. The
// server holds no data across restarts and has no password. A listen error is
// wrapped (errors.Is(err, syscall.EADDRINUSE) when the port is taken).
func Start(addr string) (*Embedded, error) {
	if addr == "" {
		addr = DefaultAddr
	}
	mr := miniredis.NewMiniRedis()
	if err := mr.StartAddr(addr); err != nil {
		return nil, fmt.Errorf("devredis: listen on %s: %w", addr, err)
	}
	c := newTTLClock(mr.FastForward, TickInterval)
	c.start()
	return &Embedded{mr: mr, clock: c}, nil
}

// Addr returns the host:port the server listens on.
func (e *Embedded) Addr() string { return e.mr.Addr() }

// Close stops the TTL clock (waiting for its goroutine to return) and the
// server, dropping all data and connections. It is safe to call more than once.
func (e *Embedded) Close() {
	e.once.Do(func() {
		e.clock.shutdown()
		e.mr.Close()
	})
}

// ttlClock advances miniredis TTLs by the wall time elapsed between ticks.
// start launches its goroutine; shutdown stops it and waits for it to return.
type ttlClock struct {
	advance  func(time.Duration)
	interval time.Duration

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

func newTTLClock(advance func(time.Duration), interval time.Duration) *ttlClock {
	return &ttlClock{
		advance:  advance,
		interval: interval,
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
}

func (c *ttlClock) start() {
	go c.run()
}

func (c *ttlClock) run() {
	defer close(c.done)
	t := time.NewTicker(c.interval)
	defer t.Stop()
	last := time.Now() // monotonic: immune to wall-clock jumps
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			now := time.Now()
			if d := now.Sub(last); d > 0 {
				c.advance(d)
			}
			last = now
		}
	}
}

// shutdown stops the clock and waits until its goroutine has returned. It is
// safe to call more than once, and only after start.
func (c *ttlClock) shutdown() {
	c.once.Do(func() { close(c.stop) })
	<-c.done
}
