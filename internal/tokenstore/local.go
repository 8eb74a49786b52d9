package tokenstore

import "sync"

// localCache is the process's copy of token entries (Options.Local), by key.
// An entry is used only while fresh (before its refresh point); past it, Token
// goes to Redis, where the early refresh is coordinated across processes.
type localCache struct {
	mu sync.Mutex
	m  map[string]*entry
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
	c.m[key] = e
}

// drop forgets the copy of key if it holds token.
func (c *localCache) drop(key, token string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.m[key]; e != nil && e.Tok == token {
		delete(c.m, key)
	}
}
