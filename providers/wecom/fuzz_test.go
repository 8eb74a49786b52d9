package wecom

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/msgdispatch/msgdispatch/providers"
)

// Mutations FuzzCallbackHandler applies to a correctly signed request; every
// one but fuzzSigned must be refused with nothing changed.
const (
	fuzzSigned    = iota // the request as signed
	fuzzSigFlip          // one hex digit of msg_signature changed
	fuzzNonceFlip        // the nonce changed after signing
	fuzzTSShift          // the timestamp moved by one second after signing
	fuzzSigDrop          // msg_signature removed
	fuzzMutations
)

// FuzzCallbackHandler posts an arbitrary message, sealed for an arbitrary
// receive id, to the callback handler of a self-built or third-party app.
// Invariants: nothing panics; a request mutated after signing is refused
// (status >= 400) and changes nothing (no ticket, auth job, tenant change,
// response code or event); the logs never hold the callback token, AES key,
// ticket, auth code or response code.
func FuzzCallbackHandler(f *testing.F) {
	seeds := []struct {
		thirdParty bool
		mutation   uint8
		receiveID  string
		msg        string
	}{
		{true, fuzzSigned, testSuiteID, instructionXML(InfoSuiteTicket, "SuiteTicket", testTicket)},
		{true, fuzzSigFlip, testSuiteID, instructionXML(InfoSuiteTicket, "SuiteTicket", testTicket)},
		{true, fuzzSigned, testSuiteID, instructionXML(InfoCreateAuth, "AuthCode", testAuthCode)},
		{true, fuzzSigned, testTenant, clickXML(testTenant, "wmU", "1767225599", EventTemplateCard)},
		{true, fuzzNonceFlip, testTenant, clickXML(testTenant, "wmU", "1767225599", EventTemplateCard)},
		{false, fuzzSigned, cbCorp, clickXML(cbCorp, "zhangsan", "1767225599", EventTemplateCardMenu)},
		{false, fuzzTSShift, cbCorp, clickXML(cbCorp, "zhangsan", "1767225599", EventTemplateCard)},
		{false, fuzzSigDrop, cbCorp, clickXML(cbCorp, "zhangsan", "1767225599", EventTemplateCard)},
		{false, fuzzSigned, cbCorp, "<xml><MsgType>event</MsgType><Event>" + strings.Repeat("<a>", 200) + "</Event></xml>"},
		{false, fuzzSigned, cbCorp, "\xff\xfe<xml/>"},
		{true, fuzzSigned, testSuiteID, "<xml><InfoType>cancel_auth</InfoType><AuthCorpId>" + testTenant + "</AuthCorpId></xml>"},
	}
	for _, s := range seeds {
		f.Add(s.thirdParty, s.mutation, s.receiveID, s.msg)
	}
	f.Fuzz(func(t *testing.T, thirdParty bool, mutation uint8, receiveID, msg string) {
		mode := ModeSelfBuilt
		if thirdParty {
			mode = ModeThirdParty
		}
		b := setupCallback(t, mode)
		mutation %= fuzzMutations
		w := b.post(msg, receiveID, "n1", func(q url.Values) {
			switch mutation {
			case fuzzSigFlip:
				sig := []byte(q.Get("msg_signature"))
				if sig[0] == '0' {
					sig[0] = '1'
				} else {
					sig[0] = '0'
				}
				q.Set("msg_signature", string(sig))
			case fuzzNonceFlip:
				q.Set("nonce", "n2")
			case fuzzTSShift:
				ts, _ := strconv.ParseInt(q.Get("timestamp"), 10, 64)
				q.Set("timestamp", strconv.FormatInt(ts+1, 10))
			case fuzzSigDrop:
				q.Del("msg_signature")
			}
		})
		if mutation != fuzzSigned {
			if w.Code < 400 {
				t.Fatalf("mutation %d accepted: %d %q", mutation, w.Code, w.Body)
			}
			if len(b.tickets.puts)+len(b.auth.got())+len(b.tenants.disabled)+len(b.sink.published()) != 0 {
				t.Fatalf("mutation %d changed state", mutation)
			}
		}
		if w.Code >= 500 && mutation != fuzzSigned {
			t.Fatalf("refusal answered %d", w.Code)
		}
		b.assertLogsClean()
	})
}

// FuzzValidate feeds Validate arbitrary messages. Invariants: nothing
// panics, the verdict is the same twice, and a refusal starts with the
// field it is about (to…, kind, text, body…).
func FuzzValidate(f *testing.F) {
	f.Add("text", "hello", []byte(nil), "zhangsan|lisi", "", "", false)
	f.Add("markdown", "**x**", []byte(nil), "", "1|2", "", false)
	f.Add("card", "", []byte(`{"card_type":"text_notice","main_title":{"title":"t"},"card_action":{"type":1,"url":"https://x"}}`), "u", "", "", false)
	f.Add("card", "", []byte(`{"card_type":"vote_interaction","task_id":"t1","checkbox":{"question_key":"q","option_list":[{"id":"a","text":"A"}]},"submit_button":{"text":"ok","key":"k"}}`), "u", "", "", false)
	f.Add("raw", "", []byte(`{"msgtype":"textcard","textcard":{"title":"t","description":"d","url":"https://x"}}`), "", "", "7", false)
	f.Add("raw", "", []byte(`{"msgtype":"text","text":{"content":"`+strings.Repeat("x", 3000)+`"}}`), "", "", "", true)
	f.Add("card", "", []byte(strings.Repeat("[", 10000)), "u", "", "", false)
	f.Add("text", "bad\xffutf8", []byte(nil), "a\x00b", "", "", false)
	f.Add("text", "x", []byte(`{"a":1}`), strings.Repeat("u|", 1200), "", "", false)
	f.Fuzz(func(t *testing.T, kind, text string, body []byte, users, depts, tags string, all bool) {
		split := func(s string) []string {
			if s == "" {
				return nil
			}
			return strings.Split(s, "|")
		}
		msg := &providers.Message{App: "crm", Kind: providers.Kind(kind), Text: text,
			To: providers.Recipients{Users: split(users), Depts: split(depts), Tags: split(tags), All: all}}
		if len(body) > 0 {
			msg.Body = json.RawMessage(body)
		}
		err1, err2 := Validate(msg), Validate(msg)
		if (err1 == nil) != (err2 == nil) || (err1 != nil && err1.Error() != err2.Error()) {
			t.Fatalf("verdicts differ: %v / %v", err1, err2)
		}
		if err1 != nil && !namesField(err1.Error()) {
			t.Fatalf("refusal %q does not start with the field it is about", err1)
		}
	})
}

// namesField reports whether a validation error starts with a message field.
func namesField(s string) bool {
	for _, p := range []string{"to", "kind", "text", "body", "reply_to", "app", "tenant"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
