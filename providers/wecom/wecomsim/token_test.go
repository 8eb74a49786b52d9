package wecomsim

import (
	"testing"
	"time"
)

func TestGetToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc       string
		corpID     string
		corpSecret string
		wantCode   int
	}{
		{desc: "right secret", corpID: corp1, corpSecret: secret, wantCode: CodeOK},
		{desc: "corpid is case-insensitive", corpID: "WW1", corpSecret: secret, wantCode: CodeOK},
		{desc: "other app of the corp", corpID: corp1, corpSecret: secretB, wantCode: CodeOK},
		{desc: "wrong secret", corpID: corp1, corpSecret: "nope", wantCode: CodeInvalidSecret},
		{desc: "secret of another corp", corpID: corp1, corpSecret: secret2, wantCode: CodeInvalidSecret},
		{desc: "unknown corpid", corpID: "ww404", corpSecret: secret, wantCode: CodeInvalidCorpID},
		{desc: "missing corpid", corpSecret: secret, wantCode: CodeMissingCorpID},
		{desc: "missing secret", corpID: corp1, wantCode: CodeMissingSecret},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			r := b.getToken(tc.corpID, tc.corpSecret)
			wantCode(t, r, tc.wantCode)
			if tc.wantCode != CodeOK {
				if r.AccessToken != "" {
					t.Fatalf("error answer carries a token: %+v", r)
				}
				return
			}
			if r.ErrMsg != "ok" || r.AccessToken == "" || r.ExpiresIn != 7200 {
				t.Fatalf("answer = %+v, want ok, a token, expires_in 7200", r)
			}
		})
	}
}

func TestTokenReusedWithRemainingLifetime(t *testing.T) {
	t.Parallel()
	b := setup(t)
	first := b.getToken(corp1, secret)
	b.clock.Advance(100*time.Second + 500*time.Millisecond)
	second := b.getToken(corp1, secret)
	if second.AccessToken != first.AccessToken {
		t.Fatalf("token changed within its lifetime")
	}
	if second.ExpiresIn != 7099 {
		t.Fatalf("expires_in = %d, want 7099 (remaining whole seconds)", second.ExpiresIn)
	}
	other := b.getToken(corp1, secretB)
	if other.AccessToken == first.AccessToken {
		t.Fatalf("two apps share a token")
	}
	if got := b.sim.TokenFetches(corp1, agent); got != 2 {
		t.Fatalf("TokenFetches = %d, want 2", got)
	}
	if got := b.sim.TokenFetches(corp1, agentB); got != 1 {
		t.Fatalf("TokenFetches(B) = %d, want 1", got)
	}
}

func TestTokenExpiry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc        string
		opts        func(*Options)
		advance     time.Duration
		wantCode    int
		wantNewness bool // gettoken afterwards returns a new token
	}{
		{desc: "one second before TTL", advance: 7199 * time.Second, wantCode: CodeOK},
		{desc: "a nanosecond before TTL: valid, but gettoken renews", advance: 7200*time.Second - time.Nanosecond, wantCode: CodeOK, wantNewness: true},
		{desc: "at TTL", advance: 7200 * time.Second, wantCode: CodeTokenExpired, wantNewness: true},
		{desc: "custom TTL", opts: func(o *Options) { o.TokenTTL = time.Minute }, advance: time.Minute, wantCode: CodeTokenExpired, wantNewness: true},
		{desc: "expired as 40014", opts: func(o *Options) { o.ExpiredTokenCode = CodeInvalidToken }, advance: 3 * time.Hour, wantCode: CodeInvalidToken, wantNewness: true},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			var mods []func(*Options)
			if tc.opts != nil {
				mods = append(mods, tc.opts)
			}
			b := setup(t, mods...)
			tok := b.token()
			b.clock.Advance(tc.advance)
			wantCode(t, b.sendText(tok, "alice", "hi"), tc.wantCode)
			if fresh := b.token(); (fresh != tok) != tc.wantNewness {
				t.Fatalf("new token after expiry = %v, want %v", fresh != tok, tc.wantNewness)
			}
		})
	}
}

func TestExpireTokensAndRevoke(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc     string
		act      func(b *testBundle, tok string)
		wantCode int
	}{
		{desc: "ExpireTokens", act: func(b *testBundle, _ string) { b.sim.ExpireTokens() }, wantCode: CodeTokenExpired},
		{desc: "RevokeToken", act: func(b *testBundle, tok string) {
			if !b.sim.RevokeToken(tok) {
				b.t.Fatal("RevokeToken: unknown")
			}
		}, wantCode: CodeInvalidToken},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			tok := b.token()
			tc.act(b, tok)
			wantCode(t, b.sendText(tok, "alice", "hi"), tc.wantCode)
			fresh := b.token()
			if fresh == tok {
				t.Fatal("gettoken returned the dead token")
			}
			wantCode(t, b.sendText(fresh, "alice", "hi"), CodeOK)
			if got := b.sim.TokenFetches(corp1, agent); got != 2 {
				t.Fatalf("TokenFetches = %d, want 2", got)
			}
		})
	}
}

func TestSendTokenErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc     string
		token    func(b *testBundle) string
		wantCode int
	}{
		{desc: "missing", token: func(*testBundle) string { return "" }, wantCode: CodeMissingToken},
		{desc: "unknown", token: func(*testBundle) string { return "not-a-token" }, wantCode: CodeInvalidToken},
		{desc: "valid", token: func(b *testBundle) string { return b.token() }, wantCode: CodeOK},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			wantCode(t, b.sendText(tc.token(b), "alice", "hi"), tc.wantCode)
		})
	}
}

func TestAddAppErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc string
		app  App
	}{
		{desc: "no corp", app: App{AgentID: 1, Secret: "x"}},
		{desc: "no agent", app: App{CorpID: "c", Secret: "x"}},
		{desc: "no secret", app: App{CorpID: "c", AgentID: 1}},
		{desc: "secret used by another app", app: App{CorpID: corp1, AgentID: 9, Secret: secret}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			if err := b.sim.AddApp(tc.app); err == nil {
				t.Fatal("AddApp succeeded")
			}
		})
	}
}

func TestCurrentToken(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if _, _, ok := b.sim.CurrentToken(corp1, agent); ok {
		t.Fatal("token before gettoken")
	}
	tok := b.token()
	got, exp, ok := b.sim.CurrentToken(corp1, agent)
	if !ok || got != tok || !exp.Equal(t0.Add(DefaultTokenTTL)) {
		t.Fatalf("CurrentToken = %q %v %v", got, exp, ok)
	}
}
