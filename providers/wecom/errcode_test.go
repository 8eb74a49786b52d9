package wecom

import (
	"testing"

	"github.com/msgdispatch/msgdispatch/providers"
)

func span(lo, hi int) []int {
	var out []int
	for c := lo; c <= hi; c++ {
		out = append(out, c)
	}
	return out
}

func concat(lists ...[]int) []int {
	var out []int
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// Every errcode named in WeCom's API documentation, copied here by hand from the
// spec, has the class the spec gives it.
func TestErrcodeTableCoversSpec(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc    string
		codes   []int
		class   providers.Class
		refresh bool
	}{
		{desc: "transient", codes: []int{-1, 6000, 81026}, class: providers.ClassRetryable},
		{desc: "throttled", codes: []int{45009, 45033}, class: providers.ClassThrottled},
		{desc: "token expired or invalid", codes: []int{40014, 42001, 42009, 40082}, class: providers.ClassRetryable, refresh: true},
		{desc: "secret invalid on a business call", codes: []int{40001}, class: providers.ClassAppDisabled, refresh: true},
		{desc: "missing token (bug)", codes: []int{41001}, class: providers.ClassPermanent},
		{
			desc:  "recipients",
			codes: []int{40003, 40031, 40032, 40066, 40068, 40070, 81013, 82001, 82002, 82003, 60021, 50002},
			class: providers.ClassPermanent,
		},
		{
			desc: "payload",
			codes: concat(span(40004, 40011), []int{40007, 40008, 40033, 40035, 40058, 40074, 41006, 41011, 41016, 41033,
				44004, 45002, 45007, 45008, 45032, 301017}, span(42014, 42051), span(90200, 90208), span(60203, 60208)),
			class: providers.ClassPermanent,
		},
		{desc: "update and recall", codes: []int{60140, 42015, 42016, 82101, 82102, 42052}, class: providers.ClassPermanent},
		{
			desc: "app or tenant state",
			codes: []int{40013, 40091, 40056, 301002, 48001, 48002, 48006, 48004, 40084, 40085, 40136, 40137, 40138,
				50003, 60011, 60020, 60031, 301007, 2000002, 701099},
			class: providers.ClassAppDisabled,
		},
		{desc: "unmapped", codes: []int{1, 86008, 99999, 60209}, class: providers.ClassPermanent},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			for _, code := range tt.codes {
				r := ruleFor(code)
				if r.class != tt.class || r.refresh != tt.refresh {
					t.Errorf("errcode %d: class %v refresh %v, want %v refresh %v", code, r.class, r.refresh, tt.class, tt.refresh)
				}
				if e := codeError("message/send", code, "m"); e.Class != tt.class || e.Code != code || e.Provider != "wecom" {
					t.Errorf("codeError(%d) = %+v", code, e)
				}
			}
		})
	}
}

// gettoken keeps transient and throttling classes; everything else about a token
// fetch is an app problem.
func TestGettokenClass(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc  string
		code  int
		class providers.Class
	}{
		{desc: "wrong secret", code: 40001, class: providers.ClassAppDisabled},
		{desc: "wrong corpid", code: 40013, class: providers.ClassAppDisabled},
		{desc: "secret invalid", code: 40091, class: providers.ClassAppDisabled},
		{desc: "token code cannot come from gettoken", code: 42001, class: providers.ClassAppDisabled},
		{desc: "permanent elsewhere", code: 40003, class: providers.ClassAppDisabled},
		{desc: "unmapped", code: 41004, class: providers.ClassAppDisabled},
		{desc: "system busy", code: -1, class: providers.ClassRetryable},
		{desc: "frequency limit", code: 45009, class: providers.ClassThrottled},
		{desc: "concurrency limit", code: 45033, class: providers.ClassThrottled},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			if got, _ := gettokenClass(tt.code); got != tt.class {
				t.Errorf("gettokenClass(%d) = %v, want %v", tt.code, got, tt.class)
			}
		})
	}
}
