package msgcrypt

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// WeCom's published sample (加解密方案说明).
const (
	sampleToken     = "QDG6eK"
	sampleKey       = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
	sampleCorpID    = "wx5823bf96d3bd56c7"
	sampleEchostr   = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
	sampleSignature = "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"
	sampleTimestamp = "1409659589"
	sampleNonce     = "263014780"
	sampleEcho      = "1616140317555161061"
)

var sampleTime = time.Unix(1409659589, 0)

// newSample returns a Crypto for the sample with its clock fixed at the
// sample's timestamp.
func newSample(t testing.TB, receiveIDs ...string) *Crypto {
	t.Helper()
	c, err := New(sampleToken, sampleKey, receiveIDs...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	c.Now = func() time.Time { return sampleTime }
	return c
}

// sampleAESKey decodes the sample key independently of New.
func sampleAESKey(t testing.TB) []byte {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(sampleKey + "=")
	if err != nil || len(key) != 32 {
		t.Fatalf("decode sample key: %v (%d bytes)", err, len(key))
	}
	return key
}

// rawSeal AES-256-CBC-encrypts raw (a multiple of 16 bytes, padding already
// applied or deliberately wrong) with the sample key and base64-encodes it.
func rawSeal(t testing.TB, raw []byte) string {
	t.Helper()
	if len(raw)%aes.BlockSize != 0 {
		t.Fatalf("rawSeal: %d bytes is not a multiple of 16", len(raw))
	}
	key := sampleAESKey(t)
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, len(raw))
	cipher.NewCBCEncrypter(block, key[:16]).CryptBlocks(out, raw)
	return base64.StdEncoding.EncodeToString(out)
}

// rawOpen decrypts a base64 sample ciphertext without any check.
func rawOpen(t testing.TB, enc string) []byte {
	t.Helper()
	ct, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		t.Fatal(err)
	}
	key := sampleAESKey(t)
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	cipher.NewCBCDecrypter(block, key[:16]).CryptBlocks(ct, ct)
	return ct
}

// layout builds random(16) + msg_len + body, with msg_len given explicitly
// so that it can lie about body.
func layout(msgLen uint32, body []byte) []byte {
	b := make([]byte, 20, 20+len(body)+32)
	copy(b, "0123456789abcdef")
	binary.BigEndian.PutUint32(b[16:20], msgLen)
	return append(b, body...)
}

// pad32 appends correct PKCS#7 padding for block size 32.
func pad32(b []byte) []byte {
	n := 32 - len(b)%32
	return append(b, bytes.Repeat([]byte{byte(n)}, n)...)
}

// good builds a well-formed plaintext for msg and receiveID.
func good(msg, receiveID string) []byte {
	return pad32(layout(uint32(len(msg)), []byte(msg+receiveID)))
}

func ts(d time.Duration) string {
	return strconv.FormatInt(sampleTime.Add(d).Unix(), 10)
}

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc    string
		token   string
		key     string
		wantErr string // substring; "" means success
	}{
		{desc: "sample", token: sampleToken, key: sampleKey},
		{desc: "empty token", token: "", key: sampleKey, wantErr: "Token is empty"},
		{desc: "key too short", token: sampleToken, key: sampleKey[:42], wantErr: "must be 43 characters, got 42"},
		{desc: "key too long", token: sampleToken, key: sampleKey + "A", wantErr: "must be 43 characters, got 44"},
		{desc: "key with trailing =", token: sampleToken, key: sampleKey[:42] + "=", wantErr: "decodes to 31 bytes, want 32"},
		{desc: "key with bad character", token: sampleToken, key: "!" + sampleKey[1:], wantErr: "not base64: bad character at offset 0"},
		{desc: "key with newline", token: sampleToken, key: sampleKey[:42] + "\n", wantErr: "EncodingAESKey"},
		{desc: "empty key", token: sampleToken, key: "", wantErr: "got 0"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			c, err := New(tt.token, tt.key, sampleCorpID)
			if tt.wantErr == "" {
				if err != nil || c == nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("New: err = %v, want ErrConfig", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("New: err = %q, want it to contain %q", err, tt.wantErr)
			}
			if len(tt.key) > 8 && strings.Contains(err.Error(), tt.key[1:9]) {
				t.Errorf("New: err = %q reveals the key", err)
			}
		})
	}
}

func TestSignature(t *testing.T) {
	t.Parallel()
	c := newSample(t)
	tests := []struct {
		desc                  string
		timestamp, nonce, enc string
		want                  string
	}{
		{desc: "sample", timestamp: sampleTimestamp, nonce: sampleNonce, enc: sampleEchostr, want: sampleSignature},
		{desc: "only the token", want: fmt.Sprintf("%x", sha1.Sum([]byte(sampleToken)))},
		{desc: "sorted, not positional", timestamp: "b", nonce: "a", enc: "C",
			want: fmt.Sprintf("%x", sha1.Sum([]byte("C"+sampleToken+"ab")))},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			if got := c.Signature(tt.timestamp, tt.nonce, tt.enc); got != tt.want {
				t.Errorf("Signature = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestSampleVerifyURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc       string
		receiveIDs []string
		sig        string
		echostr    string
	}{
		{desc: "as published", receiveIDs: []string{sampleCorpID}, sig: sampleSignature, echostr: sampleEchostr},
		{desc: "among several receive ids", receiveIDs: []string{"ww-other", sampleCorpID, ""}, sig: sampleSignature, echostr: sampleEchostr},
		{desc: "no receive ids configured", sig: sampleSignature, echostr: sampleEchostr},
		{desc: "upper-case signature", receiveIDs: []string{sampleCorpID}, sig: strings.ToUpper(sampleSignature), echostr: sampleEchostr},
		{desc: "plus not percent-encoded", receiveIDs: []string{sampleCorpID}, sig: sampleSignature,
			echostr: strings.ReplaceAll(sampleEchostr, "+", " ")},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			c := newSample(t, tt.receiveIDs...)
			echo, err := c.VerifyURL(tt.sig, sampleTimestamp, sampleNonce, tt.echostr)
			if err != nil {
				t.Fatalf("VerifyURL: %v", err)
			}
			if string(echo) != sampleEcho {
				t.Errorf("VerifyURL = %q, want %q", echo, sampleEcho)
			}
			msg, rid, err := c.Decrypt(tt.sig, sampleTimestamp, sampleNonce, tt.echostr)
			if err != nil || string(msg) != sampleEcho || rid != sampleCorpID {
				t.Errorf("Decrypt = %q, %q, %v; want %q, %q, nil", msg, rid, err, sampleEcho, sampleCorpID)
			}
		})
	}
}

// TestSealKnownAnswer re-encrypts the sample with its own random prefix and
// expects the published echostr byte for byte: it pins the big-endian length,
// the receiveid placement and PKCS#7 with block size 32.
func TestSealKnownAnswer(t *testing.T) {
	t.Parallel()
	random := rawOpen(t, sampleEchostr)[:16]
	tests := []struct {
		desc string
		msg  string
		rid  string
		want string
	}{
		{desc: "sample echostr", msg: sampleEcho, rid: sampleCorpID, want: sampleEchostr},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			c := newSample(t)
			c.Rand = bytes.NewReader(random)
			got, err := c.Seal([]byte(tt.msg), tt.rid)
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			if got != tt.want {
				t.Errorf("Seal = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestDecryptRefusals(t *testing.T) {
	t.Parallel()
	ok := rawSeal(t, good("<xml>hi</xml>", sampleCorpID))
	tests := []struct {
		desc      string
		sig       string // "" means: the correct signature of (timestamp, nonce, enc)
		timestamp string
		enc       string
		want      error
	}{
		{desc: "well-formed control", enc: ok},
		{desc: "tampered signature", sig: flipHex(sampleSignature), enc: sampleEchostr, want: ErrSignature},
		{desc: "signature of another nonce", sig: mustSample(t).Signature(sampleTimestamp, "1", ok), enc: ok, want: ErrSignature},
		{desc: "signature of another timestamp", sig: sampleSignature, timestamp: ts(time.Second), enc: sampleEchostr, want: ErrSignature},
		{desc: "empty signature", sig: "-", enc: ok, want: ErrSignature},
		{desc: "signature with trailing byte", sig: sampleSignature + "0", enc: sampleEchostr, want: ErrSignature},
		{desc: "wrong receiveid", enc: rawSeal(t, good("<xml>hi</xml>", "wx-intruder")), want: ErrReceiveID},
		{desc: "empty receiveid", enc: rawSeal(t, good("<xml>hi</xml>", "")), want: ErrReceiveID},
		{desc: "receiveid prefix of the corpid", enc: rawSeal(t, good("<xml>hi</xml>", sampleCorpID[:5])), want: ErrReceiveID},
		{desc: "pad byte zero", enc: rawSeal(t, append(layout(3, []byte("abc"+sampleCorpID)), make([]byte, 32-(20+3+len(sampleCorpID))%32)...)), want: ErrPadding},
		{desc: "pad byte 33", enc: rawSeal(t, withLast(good("m", sampleCorpID), 33)), want: ErrPadding},
		{desc: "pad byte 255", enc: rawSeal(t, withLast(good("m", sampleCorpID), 255)), want: ErrPadding},
		{desc: "pad bytes unequal", enc: rawSeal(t, unequalPad(good("m", sampleCorpID))), want: ErrPadding},
		{desc: "empty ciphertext", enc: "", want: ErrCiphertext},
		{desc: "truncated to 16 bytes", enc: truncate(t, ok, 16), want: ErrCiphertext},
		{desc: "truncated to 31 bytes", enc: truncate(t, ok, 31), want: ErrCiphertext},
		{desc: "length 40, not a multiple of 16", enc: truncate(t, ok, 40), want: ErrCiphertext},
		{desc: "one byte past a block", enc: extend(t, ok, 1), want: ErrCiphertext},
		{desc: "plaintext of 12 bytes", enc: rawSeal(t, pad32(make([]byte, 12))), want: ErrPlaintext},
		{desc: "plaintext of 19 bytes", enc: rawSeal(t, pad32(make([]byte, 19))), want: ErrPlaintext},
		{desc: "msg_len one past the end", enc: rawSeal(t, pad32(layout(uint32(len("ab"+sampleCorpID))+1, []byte("ab"+sampleCorpID)))), want: ErrPlaintext},
		{desc: "msg_len 0xFFFFFFFF", enc: rawSeal(t, pad32(layout(0xFFFFFFFF, []byte("ab"+sampleCorpID)))), want: ErrPlaintext},
		{desc: "msg_len 0x80000000", enc: rawSeal(t, pad32(layout(0x80000000, []byte("ab"+sampleCorpID)))), want: ErrPlaintext},
		{desc: "msg_len swallowing the receiveid", enc: rawSeal(t, pad32(layout(uint32(len("ab"+sampleCorpID)), []byte("ab"+sampleCorpID)))), want: ErrReceiveID},
		{desc: "stale by 301 s", timestamp: ts(-301 * time.Second), enc: ok, want: ErrStale},
		{desc: "stale by a year", timestamp: ts(-365 * 24 * time.Hour), enc: ok, want: ErrStale},
		{desc: "timestamp zero", timestamp: "0", enc: ok, want: ErrStale},
		{desc: "future by 301 s", timestamp: ts(301 * time.Second), enc: ok, want: ErrStale},
		{desc: "far future", timestamp: "999999999999999999", enc: ok, want: ErrStale},
		{desc: "300 s old is accepted", timestamp: ts(-300 * time.Second), enc: ok},
		{desc: "300 s ahead is accepted", timestamp: ts(300 * time.Second), enc: ok},
		{desc: "timestamp empty", timestamp: "-", enc: ok, want: ErrTimestamp},
		{desc: "timestamp not a number", timestamp: "14096x9589", enc: ok, want: ErrTimestamp},
		{desc: "timestamp with sign", timestamp: "+1409659589", enc: ok, want: ErrTimestamp},
		{desc: "timestamp negative", timestamp: "-1409659589", enc: ok, want: ErrTimestamp},
		{desc: "timestamp 19 digits", timestamp: "1409659589000000000", enc: ok, want: ErrTimestamp},
		{desc: "bad base64 character", enc: "!!!!" + ok[4:], want: ErrBase64},
		{desc: "base64 missing padding", enc: strings.TrimRight(sampleEchostr, "="), want: ErrBase64},
		{desc: "base64 url alphabet", enc: strings.NewReplacer("+", "-", "/", "_").Replace(sampleEchostr), want: ErrBase64},
		{desc: "base64 with a tab inside", enc: ok[:8] + "\t" + ok[8:], want: ErrBase64},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			c := newSample(t, sampleCorpID)
			timestamp := tt.timestamp
			switch timestamp {
			case "":
				timestamp = sampleTimestamp
			case "-":
				timestamp = ""
			}
			sig := tt.sig
			switch sig {
			case "":
				sig = c.Signature(timestamp, sampleNonce, tt.enc)
			case "-":
				sig = ""
			}
			msg, rid, err := c.Decrypt(sig, timestamp, sampleNonce, tt.enc)
			checkRefusal(t, "Decrypt", msg, rid, err, tt.want)
			echo, err := c.VerifyURL(sig, timestamp, sampleNonce, tt.enc)
			checkRefusal(t, "VerifyURL", echo, "", err, tt.want)
			if tt.enc != "" {
				body := []byte("<xml><ToUserName><![CDATA[" + sampleCorpID + "]]></ToUserName><Encrypt><![CDATA[" +
					tt.enc + "]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>")
				msg, rid, err = c.DecryptXML(sig, timestamp, sampleNonce, body)
				checkRefusal(t, "DecryptXML", msg, rid, err, tt.want)
			}
		})
	}
}

func checkRefusal(t *testing.T, op string, msg []byte, rid string, err, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Errorf("%s: unexpected error %v", op, err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Errorf("%s: err = %v, want %v", op, err, want)
	}
	if msg != nil || rid != "" {
		t.Errorf("%s: refused but returned %q, %q", op, msg, rid)
	}
	if err != nil {
		if s := err.Error(); strings.Contains(s, sampleToken) || strings.Contains(s, sampleKey[:10]) {
			t.Errorf("%s: error %q reveals a secret", op, s)
		}
		if !strings.HasPrefix(err.Error(), "msgcrypt: ") {
			t.Errorf("%s: error %q lacks context", op, err)
		}
	}
}

func TestDecryptXML(t *testing.T) {
	t.Parallel()
	c := newSample(t, sampleCorpID)
	inner := "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><MsgType><![CDATA[event]]></MsgType></xml>"
	enc := rawSeal(t, good(inner, sampleCorpID))
	tests := []struct {
		desc string
		body string
		sig  string // "" means correct for enc
		want error
	}{
		{desc: "envelope with AgentID", body: "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Encrypt><![CDATA[" + enc + "]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>"},
		{desc: "envelope without CDATA, pretty-printed", body: "<xml>\n  <ToUserName>wx5823bf96d3bd56c7</ToUserName>\n  <Encrypt>\n" + enc + "\n  </Encrypt>\n</xml>\n"},
		{desc: "suite envelope without AgentID", body: "<xml><ToUserName><![CDATA[suite]]></ToUserName><Encrypt><![CDATA[" + enc + "]]></Encrypt></xml>"},
		{desc: "not XML", body: "hello", want: ErrEnvelope},
		{desc: "empty body", body: "", want: ErrEnvelope},
		{desc: "wrong root element", body: "<root><Encrypt>" + enc + "</Encrypt></root>", want: ErrEnvelope},
		{desc: "no Encrypt element", body: "<xml><ToUserName>x</ToUserName></xml>", want: ErrEnvelope},
		{desc: "empty Encrypt element", body: "<xml><Encrypt><![CDATA[]]></Encrypt></xml>", want: ErrEnvelope},
		{desc: "truncated XML", body: "<xml><Encrypt><![CDATA[" + enc, want: ErrEnvelope},
		{desc: "tampered signature", body: "<xml><Encrypt>" + enc + "</Encrypt></xml>", sig: flipHex(c.Signature(sampleTimestamp, sampleNonce, enc)), want: ErrSignature},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			sig := tt.sig
			if sig == "" {
				sig = c.Signature(sampleTimestamp, sampleNonce, enc)
			}
			msg, rid, err := c.DecryptXML(sig, sampleTimestamp, sampleNonce, []byte(tt.body))
			if tt.want != nil {
				checkRefusal(t, "DecryptXML", msg, rid, err, tt.want)
				return
			}
			if err != nil || string(msg) != inner || rid != sampleCorpID {
				t.Errorf("DecryptXML = %q, %q, %v; want %q, %q, nil", msg, rid, err, inner, sampleCorpID)
			}
		})
	}
}

func TestParseEnvelope(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc string
		body string
		want Envelope
	}{
		{desc: "full", body: "<xml><ToUserName><![CDATA[ww1]]></ToUserName><Encrypt><![CDATA[abc]]></Encrypt><AgentID><![CDATA[1000002]]></AgentID></xml>",
			want: Envelope{ToUserName: "ww1", Encrypt: "abc", AgentID: "1000002"}},
		{desc: "plain text AgentID", body: "<xml><ToUserName>ww1</ToUserName><AgentID>7</AgentID><Encrypt>abc</Encrypt></xml>",
			want: Envelope{ToUserName: "ww1", Encrypt: "abc", AgentID: "7"}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			got, err := ParseEnvelope([]byte(tt.body))
			if err != nil || got != tt.want {
				t.Errorf("ParseEnvelope = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// replyEnvelope is the passive-reply XML, parsed independently of the package.
type replyEnvelope struct {
	XMLName      xml.Name `xml:"xml"`
	Encrypt      string   `xml:"Encrypt"`
	MsgSignature string   `xml:"MsgSignature"`
	TimeStamp    string   `xml:"TimeStamp"`
	Nonce        string   `xml:"Nonce"`
}

func parseReply(t testing.TB, b []byte) replyEnvelope {
	t.Helper()
	var r replyEnvelope
	if err := xml.Unmarshal(b, &r); err != nil {
		t.Fatalf("reply envelope %q: %v", b, err)
	}
	return r
}

func TestEncryptRoundTrip(t *testing.T) {
	t.Parallel()
	ids := []string{sampleCorpID, "ww-suite-3f2a", "", "企业-Ω", strings.Repeat("r", 300)}
	msgs := map[string][]byte{
		"empty":                    nil,
		"sample echo":              []byte(sampleEcho),
		"reply xml":                []byte(`<xml><ToUserName><![CDATA[zhangsan]]></ToUserName><FromUserName><![CDATA[ww1]]></FromUserName><CreateTime>1348831860</CreateTime><MsgType><![CDATA[update_button]]></MsgType><Button><ReplaceName><![CDATA[已处理]]></ReplaceName></Button></xml>`),
		"binary with NULs and ]]>": append([]byte{0, 1, 2, 0xff, 32}, "]]></Encrypt>"...),
		"64 KiB":                   bytes.Repeat([]byte("x"), 64<<10),
	}
	type tcase struct {
		desc string
		id   string
		msg  []byte
	}
	var tests []tcase
	for _, id := range ids {
		for name, m := range msgs {
			tests = append(tests, tcase{desc: fmt.Sprintf("%s for %.20q", name, id), id: id, msg: m})
		}
	}
	// Every padding length 1..32 at least once.
	for n := 0; n < 32; n++ {
		tests = append(tests, tcase{desc: fmt.Sprintf("%d-byte message", n), id: sampleCorpID, msg: bytes.Repeat([]byte("p"), n)})
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			c := newSample(t, ids...)
			env, err := c.Encrypt(tt.msg, tt.id, "", "")
			if err != nil {
				t.Fatalf("Encrypt: %v", err)
			}
			r := parseReply(t, env)
			if r.TimeStamp != sampleTimestamp {
				t.Errorf("TimeStamp = %q, want the clock's %q", r.TimeStamp, sampleTimestamp)
			}
			if len(r.Nonce) != 10 {
				t.Errorf("Nonce = %q, want 10 digits", r.Nonce)
			}
			if want := c.Signature(r.TimeStamp, r.Nonce, r.Encrypt); r.MsgSignature != want {
				t.Errorf("MsgSignature = %q, want %q", r.MsgSignature, want)
			}
			ct, _ := base64.StdEncoding.DecodeString(r.Encrypt)
			if len(ct)%32 != 0 {
				t.Errorf("ciphertext is %d bytes, want a multiple of 32", len(ct))
			}
			msg, rid, err := c.Decrypt(r.MsgSignature, r.TimeStamp, r.Nonce, r.Encrypt)
			if err != nil {
				t.Fatalf("Decrypt: %v", err)
			}
			if !bytes.Equal(msg, tt.msg) || rid != tt.id {
				t.Errorf("round trip = %.40q, %.20q; want %.40q, %.20q", msg, rid, tt.msg, tt.id)
			}
			// The reply body also parses as a callback envelope.
			msg2, _, err := c.DecryptXML(r.MsgSignature, r.TimeStamp, r.Nonce, env)
			if err != nil || !bytes.Equal(msg2, tt.msg) {
				t.Errorf("DecryptXML of the reply: %v", err)
			}
		})
	}
}

func TestEncryptDeterministic(t *testing.T) {
	t.Parallel()
	random := []byte("0123456789abcdef")
	tests := []struct {
		desc      string
		timestamp string
		nonce     string
	}{
		{desc: "given timestamp and nonce", timestamp: "1700000000", nonce: "abc-DEF_123"},
		{desc: "sample timestamp and nonce", timestamp: sampleTimestamp, nonce: sampleNonce},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			c := newSample(t)
			var outs [2][]byte
			for i := range outs {
				c.Rand = bytes.NewReader(random)
				out, err := c.Encrypt([]byte("<xml/>"), sampleCorpID, tt.timestamp, tt.nonce)
				if err != nil {
					t.Fatalf("Encrypt: %v", err)
				}
				outs[i] = out
			}
			if !bytes.Equal(outs[0], outs[1]) {
				t.Errorf("same Rand, different output:\n%s\n%s", outs[0], outs[1])
			}
			r := parseReply(t, outs[0])
			if r.TimeStamp != tt.timestamp || r.Nonce != tt.nonce {
				t.Errorf("envelope has %q/%q, want %q/%q", r.TimeStamp, r.Nonce, tt.timestamp, tt.nonce)
			}
			if pt := rawOpen(t, r.Encrypt); !bytes.Equal(pt[:16], random) {
				t.Errorf("random prefix = %q, want %q", pt[:16], random)
			}
			wantPrefix := "<xml><Encrypt><![CDATA[" + r.Encrypt + "]]></Encrypt><MsgSignature><![CDATA[" + r.MsgSignature +
				"]]></MsgSignature><TimeStamp>" + tt.timestamp + "</TimeStamp><Nonce><![CDATA[" + tt.nonce + "]]></Nonce></xml>"
			if string(outs[0]) != wantPrefix {
				t.Errorf("envelope = %s\nwant       %s", outs[0], wantPrefix)
			}
		})
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("entropy exhausted") }

func TestEncryptErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc      string
		timestamp string
		nonce     string
		rand      bool // use a failing random source
		want      error
	}{
		{desc: "timestamp not digits", timestamp: "soon", nonce: "1", want: ErrTimestamp},
		{desc: "timestamp too long", timestamp: strings.Repeat("9", 19), nonce: "1", want: ErrTimestamp},
		{desc: "nonce with CDATA end", timestamp: "1", nonce: "]]>", want: ErrNonce},
		{desc: "nonce with space", timestamp: "1", nonce: "a b", want: ErrNonce},
		{desc: "nonce too long", timestamp: "1", nonce: strings.Repeat("n", 65), want: ErrNonce},
		{desc: "random source fails", timestamp: "1", nonce: "1", rand: true, want: ErrRandom},
		{desc: "random source fails for the nonce", timestamp: "1", rand: true, want: ErrRandom},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			c := newSample(t)
			if tt.rand {
				c.Rand = failingReader{}
			}
			out, err := c.Encrypt([]byte("x"), sampleCorpID, tt.timestamp, tt.nonce)
			if !errors.Is(err, tt.want) || out != nil {
				t.Errorf("Encrypt = %q, %v; want nil, %v", out, err, tt.want)
			}
		})
	}
}

func TestMaxSkew(t *testing.T) {
	t.Parallel()
	enc := rawSeal(t, good("m", sampleCorpID))
	tests := []struct {
		desc    string
		maxSkew time.Duration
		age     time.Duration
		want    error
	}{
		{desc: "default allows 5 min", age: 5 * time.Minute},
		{desc: "default refuses 5 min 1 s", age: 5*time.Minute + time.Second, want: ErrStale},
		{desc: "30 s allows 30 s", maxSkew: 30 * time.Second, age: 30 * time.Second},
		{desc: "30 s refuses 31 s", maxSkew: 30 * time.Second, age: 31 * time.Second, want: ErrStale},
		{desc: "30 s refuses 31 s ahead", maxSkew: 30 * time.Second, age: -31 * time.Second, want: ErrStale},
		{desc: "negative turns the check off", maxSkew: -1, age: 10 * 365 * 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			c := newSample(t, sampleCorpID)
			c.MaxSkew = tt.maxSkew
			stamp := ts(-tt.age)
			_, _, err := c.Decrypt(c.Signature(stamp, sampleNonce, enc), stamp, sampleNonce, enc)
			if !errors.Is(err, tt.want) {
				t.Errorf("Decrypt: err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestDefaultClockAndRandom(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc string
		id   string
	}{
		{desc: "corp id", id: sampleCorpID},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			c, err := New(sampleToken, sampleKey, tt.id)
			if err != nil {
				t.Fatal(err)
			}
			env, err := c.Encrypt([]byte("now"), tt.id, "", "")
			if err != nil {
				t.Fatal(err)
			}
			r := parseReply(t, env)
			msg, _, err := c.Decrypt(r.MsgSignature, r.TimeStamp, r.Nonce, r.Encrypt)
			if err != nil || string(msg) != "now" {
				t.Errorf("Decrypt with the real clock = %q, %v", msg, err)
			}
			// The sample is years old: with the real clock it is stale.
			if _, err := c.VerifyURL(sampleSignature, sampleTimestamp, sampleNonce, sampleEchostr); !errors.Is(err, ErrStale) {
				t.Errorf("VerifyURL of the 2014 sample with the real clock: err = %v, want ErrStale", err)
			}
		})
	}
}

func TestFormatRedacts(t *testing.T) {
	t.Parallel()
	c := newSample(t, sampleCorpID)
	keyHex := fmt.Sprintf("%x", sampleAESKey(t)[:8])
	tests := []struct {
		desc   string
		format string
	}{
		{desc: "v", format: "%v"}, {desc: "plus v", format: "%+v"}, {desc: "sharp v", format: "%#v"},
		{desc: "s", format: "%s"}, {desc: "d", format: "%d"}, {desc: "x", format: "%x"}, {desc: "q", format: "%q"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			for _, arg := range []any{c, *c} {
				s := fmt.Sprintf(tt.format, arg)
				if strings.Contains(s, sampleToken) || strings.Contains(s, keyHex) {
					t.Errorf("Sprintf(%q) = %s reveals a secret", tt.format, s)
				}
				if !strings.Contains(s, "redacted") {
					t.Errorf("Sprintf(%q) = %s, want the redacted form", tt.format, s)
				}
			}
		})
	}
}

func TestReceiveIDsCopied(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc string
		ids  []string
	}{
		{desc: "two ids", ids: []string{sampleCorpID, "suite"}},
		{desc: "none", ids: nil},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			ids := append([]string(nil), tt.ids...)
			c, err := New(sampleToken, sampleKey, ids...)
			if err != nil {
				t.Fatal(err)
			}
			if len(ids) > 0 {
				ids[0] = "mutated"
			}
			got := c.ReceiveIDs()
			if fmt.Sprint(got) != fmt.Sprint(tt.ids) {
				t.Errorf("ReceiveIDs = %q, want %q", got, tt.ids)
			}
		})
	}
}

func flipHex(s string) string {
	b := []byte(s)
	if b[0] == '0' {
		b[0] = '1'
	} else {
		b[0] = '0'
	}
	return string(b)
}

func withLast(b []byte, v byte) []byte {
	b[len(b)-1] = v
	return b
}

// unequalPad corrupts the first pad byte of a padded plaintext whose pad
// is at least 2.
func unequalPad(b []byte) []byte {
	n := int(b[len(b)-1])
	if n < 2 {
		panic("unequalPad needs a pad of at least 2")
	}
	b[len(b)-n]++
	return b
}

func truncate(t testing.TB, enc string, n int) string {
	t.Helper()
	ct, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || len(ct) < n {
		t.Fatalf("truncate: %v", err)
	}
	return base64.StdEncoding.EncodeToString(ct[:n])
}

func extend(t testing.TB, enc string, n int) string {
	t.Helper()
	ct, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(append(ct, make([]byte, n)...))
}

func mustSample(t testing.TB) *Crypto { return newSample(t) }
