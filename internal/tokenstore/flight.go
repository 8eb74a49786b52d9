package tokenstore

import "sync"

// flights is a tiny per-key singleflight: while one goroutine (the leader)
// works on a key, the others of this process join it instead of going to
// Redis themselves.
type flights struct {
	mu sync.Mutex
	m  map[string]*flight
}

// flight is one leader's work on a key; res is set before done is closed.
type flight struct {
	done chan struct{}
	res  flightResult
}

type flightResult struct {
	tok string
	err error
	// retry tells joiners not to use this result: the leader's own context
	// ended, or it fell back to a cached token that a joiner found missing.
	retry bool
}

// begin returns the flight for key and whether the caller created it (and so
// must end it).
func (g *flights) begin(key string) (*flight, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.m[key]; ok {
		return f, false
	}
	if g.m == nil {
		g.m = make(map[string]*flight)
	}
	f := &flight{done: make(chan struct{})}
	g.m[key] = f
	return f, true
}

// end publishes the leader's result and lets the next caller lead.
func (g *flights) end(key string, f *flight, res flightResult) {
	g.mu.Lock()
	delete(g.m, key)
	g.mu.Unlock()
	f.res = res
	close(f.done)
}
