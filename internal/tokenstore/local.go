package tokenstore

import "sync"

// localCache is the process's copy of token entries (Options.Local), by key.
// An entry is used only while fresh (before its refresh point); past it, Token
// goes to Redis, where the early refresh is coordinated across processes.
//
// A token dropped by Invalidate is remembered (the last one per key) and never
// put back: a caller that read it from Redis before the invalidation would
// otherwise keep it here again, and the caller that invalidated it would be
// handed the refused token as its "fresh" one.
type localCache struct {
	mu      sync.Mutex
	m       map[string]*entry
	dropped map[string]string // key → the last token dropped
}

func (c *localCache) get(key string) *entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[key]
}

func (c *localCache) put(key string, e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]*entry)
	}
	if e != nil && c.dropped[key] == e.Tok {
		return
	}
	c.m[key] = e
}

// drop forgets the copy of key if it holds token, and refuses token for key
// from now on.
func (c *localCache) drop(key, token string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.m[key]; e != nil && e.Tok == token {
		delete(c.m, key)
	}
	if c.dropped == nil {
		c.dropped = make(map[string]string)
	}
	c.dropped[key] = token
}
