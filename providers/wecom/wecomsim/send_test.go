package wecomsim

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func ids(prefix string, n int) string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("%s%d", prefix, i))
	}
	return strings.Join(out, "|")
}

func TestSendValidation(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 2048)
	card := func(c string) string {
		return fmt.Sprintf(`{"touser":"alice","msgtype":"template_card","agentid":%d,"template_card":%s}`, agent, c)
	}
	tests := []struct {
		desc     string
		body     string
		wantCode int
	}{
		{desc: "text ok", body: textBody("alice", "hi"), wantCode: CodeOK},
		{desc: "text of 2048 bytes", body: textBody("alice", long), wantCode: CodeOK},
		{desc: "text of 2049 bytes", body: textBody("alice", long+"b"), wantCode: CodeContentTooLong},
		{desc: "multi-byte text over 2048 bytes", body: textBody("alice", strings.Repeat("字", 683)), wantCode: CodeContentTooLong},
		{desc: "empty text", body: textBody("alice", ""), wantCode: CodeEmptyContent},
		{desc: "text object missing", body: `{"touser":"alice","msgtype":"text","agentid":1000002}`, wantCode: CodeEmptyContent},
		{desc: "unicode escape", body: `{"touser":"alice","msgtype":"text","agentid":1000002,"text":{"content":"\u003ca\u003e"}}`, wantCode: CodeInvalidChar},
		{desc: "escaped backslash then u is no escape", body: `{"touser":"alice","msgtype":"text","agentid":1000002,"text":{"content":"C:\\users"}}`, wantCode: CodeOK},
		{desc: "encoding/json default HTML escaping", body: mustMarshal(map[string]any{"touser": "alice", "msgtype": "text", "agentid": agent, "text": map[string]string{"content": "<a>"}}), wantCode: CodeInvalidChar},
		{desc: "raw html is fine", body: `{"touser":"alice","msgtype":"text","agentid":1000002,"text":{"content":"<a href=\"https://x\">x</a> & y"}}`, wantCode: CodeOK},
		{desc: "invalid utf-8", body: "{\"touser\":\"alice\",\"msgtype\":\"text\",\"agentid\":1000002,\"text\":{\"content\":\"\xff\"}}", wantCode: CodeInvalidChar},
		{desc: "invalid JSON", body: `{"touser":"alice",`, wantCode: CodeInvalidParam},
		{desc: "trailing garbage", body: textBody("alice", "hi") + "}", wantCode: CodeInvalidParam},
		{desc: "touser as array", body: `{"touser":["alice"],"msgtype":"text","agentid":1000002,"text":{"content":"hi"}}`, wantCode: CodeInvalidParam},
		{desc: "agentid missing", body: `{"touser":"alice","msgtype":"text","text":{"content":"hi"}}`, wantCode: CodeMissingAgentID},
		{desc: "agentid as string", body: `{"touser":"alice","msgtype":"text","agentid":"1000002","text":{"content":"hi"}}`, wantCode: CodeOK},
		{desc: "agentid not a number", body: `{"touser":"alice","msgtype":"text","agentid":"abc","text":{"content":"hi"}}`, wantCode: CodeInvalidAgentID},
		{desc: "agentid of no app", body: `{"touser":"alice","msgtype":"text","agentid":42,"text":{"content":"hi"}}`, wantCode: CodeInvalidAgentID},
		{desc: "agentid of another app of the corp", body: `{"touser":"alice","msgtype":"text","agentid":1000003,"text":{"content":"hi"}}`, wantCode: CodeAgentMismatch},
		{desc: "unknown msgtype", body: `{"touser":"alice","msgtype":"sms","agentid":1000002,"sms":{}}`, wantCode: CodeInvalidMsgType},
		{desc: "missing msgtype", body: `{"touser":"alice","agentid":1000002,"text":{"content":"hi"}}`, wantCode: CodeInvalidMsgType},
		{desc: "1000 users", body: textBody(ids("u", 999)+"|alice", "hi"), wantCode: CodeOK},
		{desc: "1001 users", body: textBody(ids("u", 1001), "hi"), wantCode: CodeTooManyUsers},
		{desc: "101 depts", body: fmt.Sprintf(`{"toparty":%q,"msgtype":"text","agentid":1000002,"text":{"content":"hi"}}`, ids("", 101)), wantCode: CodeTooManyParties},
		{desc: "100 depts", body: fmt.Sprintf(`{"toparty":%q,"msgtype":"text","agentid":1000002,"text":{"content":"hi"}}`, ids("", 100)), wantCode: CodeOK},
		{desc: "101 tags", body: fmt.Sprintf(`{"totag":%q,"msgtype":"text","agentid":1000002,"text":{"content":"hi"}}`, ids("", 101)), wantCode: CodeTooManyTags},
		{desc: "no recipients", body: `{"msgtype":"text","agentid":1000002,"text":{"content":"hi"}}`, wantCode: CodeNoRecipients},
		{desc: "only separators", body: `{"touser":" | ","toparty":"","msgtype":"text","agentid":1000002,"text":{"content":"hi"}}`, wantCode: CodeNoRecipients},
		{desc: "all recipients invalid", body: `{"touser":"ghost","toparty":"99","totag":"98","msgtype":"text","agentid":1000002,"text":{"content":"hi"}}`, wantCode: CodeAllInvalid},
		{desc: "markdown ok", body: `{"touser":"alice","msgtype":"markdown","agentid":1000002,"markdown":{"content":"**hi**"}}`, wantCode: CodeOK},
		{desc: "markdown empty", body: `{"touser":"alice","msgtype":"markdown","agentid":1000002,"markdown":{"content":""}}`, wantCode: CodeEmptyContent},
		{desc: "markdown too long", body: fmt.Sprintf(`{"touser":"alice","msgtype":"markdown","agentid":1000002,"markdown":{"content":%q}}`, long+"x"), wantCode: CodeContentTooLong},
		{desc: "image ok", body: `{"touser":"alice","msgtype":"image","agentid":1000002,"image":{"media_id":"m1"}}`, wantCode: CodeOK},
		{desc: "image without media_id", body: `{"touser":"alice","msgtype":"image","agentid":1000002,"image":{}}`, wantCode: CodeMissingMediaID},
		{desc: "voice without media_id", body: `{"touser":"alice","msgtype":"voice","agentid":1000002}`, wantCode: CodeMissingMediaID},
		{desc: "file ok", body: `{"touser":"alice","msgtype":"file","agentid":1000002,"file":{"media_id":"m1"}}`, wantCode: CodeOK},
		{desc: "video ok", body: `{"touser":"alice","msgtype":"video","agentid":1000002,"video":{"media_id":"m1","title":"t"}}`, wantCode: CodeOK},
		{desc: "video without media_id", body: `{"touser":"alice","msgtype":"video","agentid":1000002,"video":{"title":"t"}}`, wantCode: CodeMissingMediaID},
		{desc: "textcard ok", body: `{"touser":"alice","msgtype":"textcard","agentid":1000002,"textcard":{"title":"t","description":"d","url":"https://x"}}`, wantCode: CodeOK},
		{desc: "textcard without description", body: `{"touser":"alice","msgtype":"textcard","agentid":1000002,"textcard":{"title":"t","url":"https://x"}}`, wantCode: CodeMissingDescription},
		{desc: "textcard without title", body: `{"touser":"alice","msgtype":"textcard","agentid":1000002,"textcard":{"description":"d","url":"https://x"}}`, wantCode: CodeMissingTitle},
		{desc: "textcard without url", body: `{"touser":"alice","msgtype":"textcard","agentid":1000002,"textcard":{"title":"t","description":"d"}}`, wantCode: CodeMissingURL},
		{desc: "news ok", body: `{"touser":"alice","msgtype":"news","agentid":1000002,"news":{"articles":[{"title":"t","url":"https://x"}]}}`, wantCode: CodeOK},
		{desc: "news with 9 articles", body: `{"touser":"alice","msgtype":"news","agentid":1000002,"news":{"articles":[` + strings.Repeat(`{"title":"t"},`, 8) + `{"title":"t"}]}}`, wantCode: CodeTooManyArticles},
		{desc: "news without title", body: `{"touser":"alice","msgtype":"news","agentid":1000002,"news":{"articles":[{"url":"https://x"}]}}`, wantCode: CodeMissingTitle},
		{desc: "news is never safe", body: `{"touser":"alice","msgtype":"news","agentid":1000002,"safe":1,"news":{"articles":[{"title":"t"}]}}`, wantCode: CodeNewsNoSafe},
		{desc: "news without articles", body: `{"touser":"alice","msgtype":"news","agentid":1000002,"news":{"articles":[]}}`, wantCode: CodeInvalidRequestParam},
		{desc: "mpnews ok", body: `{"touser":"alice","msgtype":"mpnews","agentid":1000002,"safe":2,"mpnews":{"articles":[{"title":"t","thumb_media_id":"m","content":"<p>c</p>"}]}}`, wantCode: CodeOK},
		{desc: "mpnews without thumb", body: `{"touser":"alice","msgtype":"mpnews","agentid":1000002,"mpnews":{"articles":[{"title":"t","content":"c"}]}}`, wantCode: CodeMissingMediaID},
		{desc: "mpnews long author", body: fmt.Sprintf(`{"touser":"alice","msgtype":"mpnews","agentid":1000002,"mpnews":{"articles":[{"title":"t","thumb_media_id":"m","content":"c","author":%q}]}}`, strings.Repeat("a", 65)), wantCode: CodeAuthorTooLong},
		{desc: "miniprogram_notice ok", body: `{"touser":"alice","msgtype":"miniprogram_notice","agentid":1000002,"miniprogram_notice":{"appid":"wx1","title":"会议室预订成功"}}`, wantCode: CodeOK},
		{desc: "miniprogram_notice without appid", body: `{"touser":"alice","msgtype":"miniprogram_notice","agentid":1000002,"miniprogram_notice":{"title":"会议室预订成功"}}`, wantCode: CodeMiniAppIDMissing},
		{desc: "template_card text_notice", body: card(`{"card_type":"text_notice","main_title":{"title":"t"},"card_action":{"type":1,"url":"https://x"}}`), wantCode: CodeOK},
		{desc: "template_card bad type", body: card(`{"card_type":"fancy"}`), wantCode: CodeInvalidCardType},
		{desc: "template_card missing", body: fmt.Sprintf(`{"touser":"alice","msgtype":"template_card","agentid":%d}`, agent), wantCode: CodeInvalidCardType},
		{desc: "interaction card without task_id", body: card(`{"card_type":"vote_interaction","main_title":{"title":"t"}}`), wantCode: CodeInvalidTaskID},
		{desc: "action_menu without task_id", body: card(`{"card_type":"text_notice","main_title":{"title":"t"},"action_menu":{"desc":"d","action_list":[{"text":"a","key":"k"}]}}`), wantCode: CodeInvalidTaskID},
		{desc: "bad task_id characters", body: card(`{"card_type":"vote_interaction","task_id":"a b"}`), wantCode: CodeInvalidTaskID},
		{desc: "task_id of 129 bytes", body: card(fmt.Sprintf(`{"card_type":"vote_interaction","task_id":%q}`, strings.Repeat("a", 129))), wantCode: CodeInvalidTaskID},
		{desc: "callback button without key", body: card(`{"card_type":"button_interaction","task_id":"t1","main_title":{"title":"t"},"button_list":[{"text":"ok"}]}`), wantCode: CodeInvalidButtonKey},
		{desc: "url button needs no key", body: card(`{"card_type":"button_interaction","task_id":"t1","main_title":{"title":"t"},"button_list":[{"type":1,"text":"ok","url":"https://x"}]}`), wantCode: CodeOK},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			r := b.send(b.token(), tc.body)
			wantCode(t, r, tc.wantCode)
			n := len(b.sim.Deliveries(""))
			if tc.wantCode == CodeOK {
				if r.MsgID == "" || n == 0 {
					t.Fatalf("accepted without msgid or delivery: %+v, %d deliveries", r, n)
				}
			} else if r.MsgID != "" || n != 0 {
				t.Fatalf("refused request has msgid %q or %d deliveries", r.MsgID, n)
			}
			reqs := b.sim.RequestsTo(EndpointSend)
			if len(reqs) != 1 || reqs[0].ErrCode != tc.wantCode || reqs[0].Body != tc.body {
				t.Fatalf("recorded %+v", reqs)
			}
		})
	}
}

func TestSendRecipients(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc      string
		to        string // JSON members of the body
		wantUsers []string
		wantInv   map[string]string // field → raw JSON, "" = absent
	}{
		{desc: "users", to: `"touser":"alice|bob"`, wantUsers: []string{"alice", "bob"}},
		{desc: "userids are case-insensitive", to: `"touser":"ALICE|Bob"`, wantUsers: []string{"alice", "bob"}},
		{desc: "spaces around separators", to: `"touser":"alice | bob"`, wantUsers: []string{"alice", "bob"}},
		{desc: "a user named twice receives once", to: `"touser":"alice|Alice"`, wantUsers: []string{"alice"}},
		{desc: "dept with sub-dept", to: `"toparty":"2"`, wantUsers: []string{"dave", "erin", "frank"}},
		{desc: "tag with users and depts", to: `"totag":"7"`, wantUsers: []string{"grace", "frank"}},
		{desc: "overlapping targets dedupe", to: `"touser":"frank","toparty":"3","totag":"7"`, wantUsers: []string{"frank", "grace"}},
		{desc: "@all reaches every member, ignoring toparty", to: `"touser":"@all","toparty":"99"`,
			wantUsers: []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace"}},
		{desc: "some invalid", to: `"touser":"alice|Ghost|NOBODY","toparty":"2|99","totag":"98"`,
			wantUsers: []string{"alice", "dave", "erin", "frank"},
			wantInv:   map[string]string{"invaliduser": `"ghost|nobody"`, "invalidparty": `"99"`, "invalidtag": `"98"`}},
		{desc: "empty dept is valid", to: `"toparty":"3|99","touser":"ghost"`, wantUsers: []string{"frank"},
			wantInv: map[string]string{"invaliduser": `"ghost"`, "invalidparty": `"99"`}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			r := b.send(b.token(), fmt.Sprintf(`{%s,"msgtype":"text","agentid":1000002,"text":{"content":"hi"}}`, tc.to))
			wantCode(t, r, CodeOK)
			m, ok := b.sim.Message(r.MsgID)
			if !ok {
				t.Fatal("message not recorded")
			}
			if !slices.Equal(m.Delivered, tc.wantUsers) {
				t.Fatalf("delivered to %v, want %v", m.Delivered, tc.wantUsers)
			}
			got := map[string]json.RawMessage{"invaliduser": r.InvalidUser, "invalidparty": r.InvalidParty, "invalidtag": r.InvalidTag}
			for f, raw := range got {
				if string(raw) != tc.wantInv[f] {
					t.Errorf("%s = %s, want %q", f, raw, tc.wantInv[f])
				}
			}
		})
	}
}

func TestInvalidShapes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc      string
		array     bool
		touser    string
		wantCode  int
		wantUser  string
		wantParty string
	}{
		{desc: "string shape, partial", touser: "alice|GHOST|x", wantCode: CodeOK, wantUser: `"ghost|x"`},
		{desc: "string shape, none invalid", touser: "alice", wantCode: CodeOK},
		{desc: "string shape, all invalid", touser: "Ghost", wantCode: CodeAllInvalid, wantUser: `"ghost"`},
		{desc: "array shape, partial", array: true, touser: "alice|GHOST|x", wantCode: CodeOK, wantUser: `["ghost","x"]`, wantParty: `[]`},
		{desc: "array shape, none invalid", array: true, touser: "alice", wantCode: CodeOK, wantUser: `[]`, wantParty: `[]`},
		{desc: "array shape, all invalid", array: true, touser: "Ghost", wantCode: CodeAllInvalid, wantUser: `["ghost"]`, wantParty: `[]`},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(o *Options) { o.ArrayShapedInvalid = tc.array })
			r := b.sendText(b.token(), tc.touser, "hi")
			wantCode(t, r, tc.wantCode)
			if string(r.InvalidUser) != tc.wantUser || string(r.InvalidParty) != tc.wantParty {
				t.Fatalf("invaliduser %s invalidparty %s, want %s %s", r.InvalidUser, r.InvalidParty, tc.wantUser, tc.wantParty)
			}
			if tc.wantCode == CodeAllInvalid && r.MsgID != "" {
				t.Fatalf("81013 with msgid %q", r.MsgID)
			}
		})
	}
}

func TestAllInEmptyCorp(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sim.RemoveUsers(corp2, "zed")
	tok := b.tokenOf(corp2, secret2)
	wantCode(t, b.sendText(tok, "@all", "hi"), CodeAllInvalid)
}

func TestRemovedUserIsInvalid(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok := b.token()
	b.sim.RemoveUsers(corp1, "DAVE")
	r := b.send(tok, `{"touser":"dave|alice","toparty":"2","msgtype":"text","agentid":1000002,"text":{"content":"hi"}}`)
	wantCode(t, r, CodeOK)
	if string(r.InvalidUser) != `"dave"` {
		t.Fatalf("invaliduser = %s", r.InvalidUser)
	}
	m, _ := b.sim.Message(r.MsgID)
	if !slices.Equal(m.Delivered, []string{"alice", "erin", "frank"}) {
		t.Fatalf("delivered to %v", m.Delivered)
	}
}

func TestCorpsAreSeparate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok2 := b.tokenOf(corp2, secret2)
	r := b.sendText(tok2, "alice|zed", "hi")
	wantCode(t, r, CodeOK)
	if string(r.InvalidUser) != `"alice"` {
		t.Fatalf("invaliduser = %s", r.InvalidUser)
	}
	d := b.sim.Deliveries("zed")
	if len(d) != 1 || d[0].CorpID != corp2 || d[0].AgentID != agent {
		t.Fatalf("deliveries to zed: %+v", d)
	}
}

func TestDeliveryRecord(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := textBody("Alice", "hello <b>")
	r := b.send(b.token(), body)
	wantCode(t, r, CodeOK)
	d := b.sim.Deliveries("ALICE")
	if len(d) != 1 {
		t.Fatalf("deliveries: %+v", d)
	}
	got := d[0]
	if got.User != "alice" || got.MsgID != r.MsgID || got.MsgType != "text" || got.Content != "hello <b>" ||
		!got.At.Equal(t0) || string(got.Body) != body || got.CorpID != corp1 || got.AgentID != agent {
		t.Fatalf("delivery = %+v", got)
	}
	if c := b.sim.Counters("alice"); c.Delivered != 1 {
		t.Fatalf("counters = %+v", c)
	}
}

func TestMsgIDsUnique(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok := b.token()
	seen := map[string]bool{}
	for i := range 50 {
		r := b.sendText(tok, "alice|bob", fmt.Sprint("n", i))
		wantCode(t, r, CodeOK)
		if seen[r.MsgID] {
			t.Fatalf("msgid %q repeated", r.MsgID)
		}
		seen[r.MsgID] = true
	}
}

func TestTemplateCard(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc             string
		card             string
		wantResponseCode bool
	}{
		{desc: "button_interaction", card: `{"card_type":"button_interaction","task_id":"T1","main_title":{"title":"t"},"button_list":[{"text":"ok","key":"k"}]}`, wantResponseCode: true},
		{desc: "vote_interaction", card: `{"card_type":"vote_interaction","task_id":"T1","main_title":{"title":"t"},"checkbox":{"question_key":"q","option_list":[{"id":"a","text":"A"}]},"submit_button":{"text":"ok","key":"s"}}`, wantResponseCode: true},
		{desc: "multiple_interaction", card: `{"card_type":"multiple_interaction","task_id":"T1","main_title":{"title":"t"},"select_list":[{"question_key":"q","option_list":[{"id":"a","text":"A"}]}],"submit_button":{"text":"ok","key":"s"}}`, wantResponseCode: true},
		{desc: "text_notice", card: `{"card_type":"text_notice","task_id":"T1","sub_title_text":"s","card_action":{"type":1,"url":"https://x"}}`},
		{desc: "news_notice", card: `{"card_type":"news_notice","task_id":"T1","main_title":{"title":"t"},"card_image":{"url":"https://x/p.png"},"card_action":{"type":1,"url":"https://x"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			tok := b.token()
			body := fmt.Sprintf(`{"touser":"alice","msgtype":"template_card","agentid":1000002,"template_card":%s}`, tc.card)
			r := b.send(tok, body)
			wantCode(t, r, CodeOK)
			if (r.ResponseCode != "") != tc.wantResponseCode {
				t.Fatalf("response_code = %q, want one: %v", r.ResponseCode, tc.wantResponseCode)
			}
			m, _ := b.sim.Message(r.MsgID)
			if m.TaskID != "T1" || m.ResponseCode != r.ResponseCode {
				t.Fatalf("message = %+v", m)
			}
			// The same task_id again (a different body) is refused.
			again := fmt.Sprintf(`{"touser":"bob","msgtype":"template_card","agentid":1000002,"template_card":%s}`, tc.card)
			wantCode(t, b.send(tok, again), CodeInvalidTaskID)
			// Another app may use it.
			otherApp := strings.Replace(again, "1000002", "1000003", 1)
			wantCode(t, b.send(b.tokenOf(corp1, secretB), otherApp), CodeOK)
		})
	}
}

func TestUnknownPath(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, status, _, err := b.do(t.Context(), "POST", "/cgi-bin/message/no_such_api?access_token=x", []byte(`{}`))
	if err != nil || status != 404 {
		t.Fatalf("status %d, %v", status, err)
	}
}

func mustMarshal(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
