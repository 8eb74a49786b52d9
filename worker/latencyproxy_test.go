package worker_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

// latencyProxy forwards TCP connections to a target, delaying what either
// side sends by a fixed latency, in order: a server that far away. What a
// client sent just before it died still arrives, late.
type latencyProxy struct {
	ln     net.Listener
	target string
	delay  time.Duration

	mu      sync.Mutex
	open    int           // proxied connections not yet closed
	changed chan struct{} // closed when open drops
}

func startLatencyProxy(t *testing.T, target string, delay time.Duration) *latencyProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &latencyProxy{ln: ln, target: target, delay: delay, changed: make(chan struct{})}
	go p.serve()
	t.Cleanup(func() { _ = ln.Close() })
	return p
}

func (p *latencyProxy) addr() string { return p.ln.Addr().String() }

// waitIdle waits until every proxied connection is closed: after its client
// died, once what it had sent was delivered.
func (p *latencyProxy) waitIdle(ctx context.Context) error {
	for {
		p.mu.Lock()
		open, changed := p.open, p.changed
		p.mu.Unlock()
		if open == 0 {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("%d proxied connections still open: %w", open, ctx.Err())
		}
	}
}

func (p *latencyProxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		p.open++
		p.mu.Unlock()
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); p.delayed(out, in) }()
		go func() { defer wg.Done(); p.delayed(in, out) }()
		go func() {
			wg.Wait()
			p.mu.Lock()
			p.open--
			close(p.changed)
			p.changed = make(chan struct{})
			p.mu.Unlock()
		}()
	}
}

// delayed copies src to dst, each chunk p.delay after it was read.
func (p *latencyProxy) delayed(dst, src net.Conn) {
	type chunk struct {
		b  []byte
		at time.Time
	}
	chunks := make(chan chunk, 1024)
	go func() {
		defer close(chunks)
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				chunks <- chunk{bytes.Clone(buf[:n]), time.Now().Add(p.delay)}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range chunks {
		time.Sleep(time.Until(c.at)) // the latency itself, not a synchronisation
		if _, err := dst.Write(c.b); err != nil {
			break
		}
	}
	src.Close()
	for range chunks { // the reader ends on the closed src
	}
	dst.Close()
}
