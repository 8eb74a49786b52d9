package config

import (
	"net"
	"strconv"
)

// AppProviders maps each configured app to its provider's name (the
// provider and app labels of the metrics).
func (c *Config) AppProviders() map[string]string {
	out := make(map[string]string, len(c.Apps))
	for name, a := range c.Apps {
		out[name] = a.Provider
	}
	return out
}

// listenAddr checks a host:port to listen on (host may be empty; port 0 to
// 65535).
func (p *parser) listenAddr(path, addr string) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		p.add(path, "must be host:port or :port, got %q", addr)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		p.add(path, "port must be a number from 0 to 65535, got %q", port)
	}
}
