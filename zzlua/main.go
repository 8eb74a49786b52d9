package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/ratelimit"
)

func stat(ctx context.Context, r *redis.Client) float64 {
	s, _ := r.Info(ctx, "commandstats").Result()
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "cmdstat_evalsha:") {
			i := strings.Index(l, "usec_per_call=")
			f, _ := strconv.ParseFloat(strings.Split(l[i+14:], ",")[0], 64)
			return f
		}
	}
	return 0
}

// parse a MONITOR line into its args
func parse(line string) []string {
	i := strings.Index(line, "] ")
	line = line[i+2:]
	var out []string
	for len(line) > 0 {
		line = strings.TrimLeft(line, " \n")
		if line == "" {
			break
		}
		// find closing quote
		j := 1
		for ; j < len(line); j++ {
			if line[j] == '\\' {
				j++
				continue
			}
			if line[j] == '"' {
				break
			}
		}
		s, err := strconv.Unquote(line[:j+1])
		if err != nil {
			panic(fmt.Sprint(err, line[:j+1]))
		}
		out = append(out, s)
		line = line[j+1:]
	}
	return out
}

func load(f string) (keys []string, args []any) {
	b, _ := os.ReadFile(f)
	a := parse(strings.TrimSpace(string(b)))
	nk, _ := strconv.Atoi(a[2])
	keys = a[3 : 3+nk]
	for _, x := range a[3+nk:] {
		args = append(args, x)
	}
	return
}

const settleBody = `
local nl = tonumber(ARGV[4])
local led = false
if nl > 0 then
  local K, A = {}, {}
  for i = 4, #KEYS do K[#K + 1] = KEYS[i] end
  for i = 5, 4 + nl do A[#A + 1] = ARGV[i] end
  led = ledgerMark(K, A)
end
local nf = tonumber(ARGV[5 + nl])
local f = {}
for i = 6 + nl, 5 + nl + nf do f[#f + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(f))
redis.call('HINCRBY', KEYS[1], 'v', 1)
redis.call('HDEL', KEYS[1], 'rec')
redis.call('PEXPIRE', KEYS[1], ARGV[1])
if ARGV[2] ~= '0' then redis.call('PEXPIRE', KEYS[3], ARGV[2]) end
if #ARGV > 5 + nl + nf then
  local args = {KEYS[2], 'MAXLEN', '~', ARGV[3], '*'}
  for i = 6 + nl + nf, #ARGV do args[#args + 1] = ARGV[i] end
  redis.call('XADD', unpack(args))
end
return {1, led}
`

func main() {
	ctx := context.Background()
	r := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6499", DB: 3})
	r.FlushDB(ctx)
	keys, args := load("/tmp/settle.line")
	cases := []struct {
		name string
		src  string
	}{
		{"settle", ratelimit.MarkFuncLua + settleBody},
		{"settle-noledger-fn", "local function ledgerMark(K, A) return {} end\n" + settleBody},
		{"settle-nothing", "return 1"},
		{"ledger-only", ratelimit.MarkFuncLua + "local K, A = {}, {}\nfor i = 4, #KEYS do K[#K + 1] = KEYS[i] end\nfor i = 5, 10 do A[#A + 1] = ARGV[i] end\nreturn ledgerMark(K, A)"},
		{"no-xadd", ratelimit.MarkFuncLua + strings.Replace(settleBody, "redis.call('XADD', unpack(args))", "", 1)},
	}
	for _, c := range cases {
		s := redis.NewScript(c.src)
		r.ConfigResetStat(ctx)
		for i := 0; i < 20000; i++ {
			if err := s.Run(ctx, r, keys, args...).Err(); err != nil && err != redis.Nil {
				fmt.Println(c.name, err)
				break
			}
		}
		fmt.Printf("%-25s %.2f us/call\n", c.name, stat(ctx, r))
	}
	r.FlushDB(ctx)
}
