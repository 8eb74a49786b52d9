package wecomsim

import "net/http"

// concKey is one corp's requests to one endpoint.
type concKey struct {
	corp     string // lower-cased corpid
	endpoint string
}

type concCount struct {
	cur, peak int
}

// enterLocked admits a request to the concurrency count of its corp and
// endpoint; s.mu must be held. busy is true when Options.MaxConcurrentPerCorp is
// reached. A request whose corp cannot be told (no or unknown corpid or token)
// is not counted.
func (s *Sim) enterLocked(r *http.Request, endpoint string) (k concKey, busy bool) {
	q := r.URL.Query()
	switch endpoint {
	case EndpointGetToken:
		k.corp = corpKey(q.Get("corpid"))
		if s.corps[k.corp] == nil {
			return concKey{}, false
		}
	default:
		t := s.tokens[q.Get("access_token")]
		if t == nil {
			return concKey{}, false
		}
		k.corp = t.app.key.corp
	}
	k.endpoint = endpoint
	c := s.conc[k]
	if c == nil {
		c = &concCount{}
		s.conc[k] = c
	}
	if s.opts.MaxConcurrentPerCorp > 0 && c.cur >= s.opts.MaxConcurrentPerCorp {
		return concKey{}, true
	}
	c.cur++
	c.peak = max(c.peak, c.cur)
	s.notifyLocked()
	return k, false
}

// leave ends a request admitted by enterLocked.
func (s *Sim) leave(k concKey) {
	if k.corp == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conc[k].cur--
	s.notifyLocked()
}

// Concurrency returns how many requests of the corp to endpoint are being
// handled now and the most there ever were at once (since New), counting
// injected latency. Use it to check a client's per-corp concurrency cap.
func (s *Sim) Concurrency(corpID, endpoint string) (current, peak int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.conc[concKey{corp: corpKey(corpID), endpoint: endpoint}]; c != nil {
		return c.cur, c.peak
	}
	return 0, 0
}
