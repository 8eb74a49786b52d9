package main

import (
	"fmt"
	"sort"

	"github.com/msgdispatch/msgdispatch/internal/bench"
	"github.com/msgdispatch/msgdispatch/providers/wecom/wecomsim"
	"github.com/msgdispatch/msgdispatch/providers/wps365/wps365sim"
	"github.com/msgdispatch/msgdispatch/providers/xiezuo"
	"github.com/msgdispatch/msgdispatch/providers/xiezuo/xiezuosim"
)

// The bench's simulated apps; the secrets are random per run.
const (
	benchCorp    = "wwbench000000001"
	benchAgent   = 1000002
	benchXZKey   = "AKBENCH0001"
	benchCompany = "c-bench"
	benchXZToken = "/o/woa/oauthapi/v3/inner/company/token"
	benchW365App = "AK365BENCH"
)

// benchSims are the simulators `dispatcher bench` can run against, by
// provider name.
var benchSims = map[string]bench.NewSim{
	"wecom": func() (*bench.Sim, error) {
		secret := randomHex(16)
		sim := wecomsim.New(wecomsim.Options{})
		if err := sim.AddApp(wecomsim.App{CorpID: benchCorp, AgentID: benchAgent, Secret: secret}); err != nil {
			return nil, err
		}
		return &bench.Sim{Provider: "wecom", Handler: sim,
			AppYAML: func(url string) string {
				return fmt.Sprintf("    provider: wecom\n    wecom: {base_url: %q, corp_id: %s, agent_id: %d, secret: %q}\n", url, benchCorp, benchAgent, secret)
			},
			AddUsers: func(users ...string) { sim.AddUsers(benchCorp, users...) },
		}, nil
	},
	"xiezuo": func() (*bench.Sim, error) {
		secret := randomHex(16)
		sim := xiezuosim.New(xiezuosim.Options{})
		if err := sim.AddApp(xiezuosim.App{Key: benchXZKey, Secret: secret, Signature: "wps4", HeaderStyle: xiezuo.HeaderStyleWPSDocs,
			UnsignedPrefix: "/o/woa", CompanyID: benchCompany}); err != nil {
			return nil, err
		}
		return &bench.Sim{Provider: "xiezuo", Handler: sim,
			AppYAML: func(url string) string {
				return fmt.Sprintf("    provider: xiezuo\n    xiezuo: {base_url: %q, app_key: %s, app_secret: %q, signature: wps4, header_style: wps_docs, "+
					"company_token_path: %s, biz_type: bench, company_id: %s, company_uid: bot-1}\n", url, benchXZKey, secret, benchXZToken, benchCompany)
			},
			AddUsers: func(users ...string) { sim.AddUsers(benchCompany, users...) },
		}, nil
	},
	"wps365": func() (*bench.Sim, error) {
		secret := randomHex(16)
		sim := wps365sim.New(wps365sim.Options{})
		sim.AddApp(benchW365App, secret, benchCompany)
		return &bench.Sim{Provider: "wps365", Handler: sim,
			AppYAML: func(url string) string {
				return fmt.Sprintf("    provider: wps365\n    wps365: {base_url: %q, app_id: %s, app_secret: %q, company_id: %s}\n", url, benchW365App, secret, benchCompany)
			},
			AddUsers: sim.AddUsers,
		}, nil
	},
}

// benchProviders are the names of benchSims, sorted.
func benchProviders() []string {
	var out []string
	for name := range benchSims {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}
