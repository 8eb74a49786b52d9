// Package bench measures the dispatcher against bare asynq, side by side, in
// one run: the engine of `dispatcher bench`.
//
// A run starts (or is given) a Redis and serves a provider simulator behind
// a recorder that notes when each benchmark message reaches it. The
// pipeline side enqueues N messages through the real producer (one
// goroutine, as a producer service would) and runs the real worker; the
// baseline side enqueues the same messages as bare asynq tasks carrying the
// part the provider rendered, and a bare asynq handler sends that part with
// the provider's own client (same body bytes, same token and signature),
// with the same servers, concurrency and queues. Each side reports
// throughput, enqueue-to-provider latency, Redis round trips (asynq's own
// apart), Redis CPU and the process's peak RSS.
//
// The package names no provider: the caller gives the simulator ([Sim]).
package bench
