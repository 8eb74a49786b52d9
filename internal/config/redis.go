package config

import (
	"fmt"
	"net"
	"net/url"
)

// validateRedis checks the redis block: at most one of a server (addr and/or
// url, url winning), sentinel and cluster, each well formed. None at all is
// left to the caller (dev mode embeds a Redis; the other commands refuse).
func (p *parser) validateRedis(r *Redis) {
	if r.DB < 0 {
		p.add("redis.db", "must not be negative")
	}
	server := r.Addr != "" || r.URL != ""
	switch {
	case r.Sentinel != nil && r.Cluster != nil:
		p.add("redis", "set one of addr/url, sentinel and cluster, not both sentinel and cluster")
	case r.Sentinel != nil && server:
		p.add("redis.sentinel", "not with redis.addr or redis.url: set one of addr/url, sentinel and cluster")
	case r.Cluster != nil && server:
		p.add("redis.cluster", "not with redis.addr or redis.url: set one of addr/url, sentinel and cluster")
	}
	if r.Addr != "" {
		p.hostPort("redis.addr", r.Addr)
	}
	if r.URL != "" {
		p.redisURL("redis.url", r.URL)
	}
	if s := r.Sentinel; s != nil {
		p.hostPorts("redis.sentinel.addrs", s.Addrs)
	}
	if c := r.Cluster; c != nil {
		p.hostPorts("redis.cluster.addrs", c.Addrs)
		if r.DB != 0 {
			p.add("redis.db", "must be 0 with redis.cluster (a Redis Cluster has only database 0)")
		}
	}
}

// redisURL checks that s is a redis:// or rediss:// URL with a host.
func (p *parser) redisURL(path, s string) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
		p.add(path, "want a redis:// or rediss:// URL with a host, got %s", p.show(path, redactURL(s)))
	}
}

// redactURL is s without the password it may carry.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "an unparsable URL"
	}
	return u.Redacted()
}

// hostPorts checks that addrs is a non-empty list of host:port.
func (p *parser) hostPorts(path string, addrs []string) {
	if addrs == nil {
		return // "required", said by decodeStruct
	}
	if len(addrs) == 0 {
		p.add(path, "at least one host:port is required")
	}
	for i, a := range addrs {
		p.hostPort(fmt.Sprintf("%s[%d]", path, i), a)
	}
}

// hostPort checks that a is host:port.
func (p *parser) hostPort(path, a string) {
	if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
		p.add(path, "want host:port, got %s", p.show(path, a))
	}
}
