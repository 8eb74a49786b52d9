package bench

import (
	"runtime"
	"testing"
)

// A run's GOMAXPROCS: -procs when given; else one core left to the bench's
// own redis-server when asked (never below 1); else the process's own.
func TestProcsFor(t *testing.T) {
	t.Parallel()
	own := runtime.GOMAXPROCS(0)
	tests := []struct {
		desc  string
		o     Options
		redis string
		cpus  int
		want  int
	}{
		{desc: "explicit procs", o: Options{Procs: 3, SpareRedisCore: true}, redis: "redis-server", cpus: 2, want: 3},
		{desc: "a core left to redis-server", o: Options{SpareRedisCore: true}, redis: "redis-server", cpus: 2, want: 1},
		{desc: "a core left on a bigger machine", o: Options{SpareRedisCore: true}, redis: "redis-server", cpus: 8, want: 7},
		{desc: "never below one", o: Options{SpareRedisCore: true}, redis: "redis-server", cpus: 1, want: 1},
		{desc: "embedded Redis runs in the process", o: Options{SpareRedisCore: true}, redis: "embedded", cpus: 2, want: own},
		{desc: "an external Redis may be anywhere", o: Options{SpareRedisCore: true}, redis: "external", cpus: 2, want: own},
		{desc: "not asked", o: Options{}, redis: "redis-server", cpus: 2, want: own},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			if got := procsFor(tc.o, tc.redis, tc.cpus); got != tc.want {
				t.Errorf("procsFor = %d, want %d", got, tc.want)
			}
		})
	}
}
