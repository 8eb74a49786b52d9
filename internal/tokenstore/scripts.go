package tokenstore

import "github.com/redis/go-redis/v9"

// storeScript stores an entry and releases the refresh lock, but only while the
// caller still holds the lock: a fetch that outlived its lock must not overwrite
// what the next lock holder stored.
//
//	KEYS[1] token key
//	KEYS[2] lock key
//	ARGV[1] lock value (the caller's random token)
//	ARGV[2] entry (JSON)
//	ARGV[3] entry TTL in milliseconds (> 0)
//
// Returns 1 if stored (and the lock released), 0 if the lock was not ours.
var storeScript = redis.NewScript(`
if redis.call("GET", KEYS[2]) ~= ARGV[1] then
  return 0
end
redis.call("SET", KEYS[1], ARGV[2], "PX", ARGV[3])
redis.call("DEL", KEYS[2])
return 1
`)

// unlockScript releases the refresh lock if the caller still holds it
// (compare-and-delete).
//
//	KEYS[1] lock key
//	ARGV[1] lock value (the caller's random token)
//
// Returns 1 if the lock was deleted, 0 if it was not ours (or gone).
var unlockScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0
`)

// invalidateScript deletes the cached entry only if it holds the given token
// (compare-and-delete), so a caller that failed with an old token never
// removes a newer one. Negative entries are never deleted by it.
//
//	KEYS[1] token key
//	ARGV[1] token that failed
//
// Returns 1 if the entry was deleted, else 0.
var invalidateScript = redis.NewScript(`
local v = redis.call("GET", KEYS[1])
if not v then
  return 0
end
local ok, e = pcall(cjson.decode, v)
if ok and type(e) == "table" and e["tok"] == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0
`)
