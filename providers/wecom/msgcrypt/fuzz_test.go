package msgcrypt

import (
	"bytes"
	"crypto/cipher"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Fuzz modes: the low two bits say what data is; the high bit says whether
// the fuzzed signature is used as is (otherwise the correct one is computed,
// so that the fuzzer gets past authentication and reaches the parser); bit 6
// turns the timestamp window off so that mutated timestamps do not stop the
// fuzzer short of the decryption.
const (
	fuzzText       = 0    // data is the encrypted text as received
	fuzzCiphertext = 1    // data is the ciphertext; base64-encoded by the harness
	fuzzPlaintext  = 2    // data is the padded plaintext; AES-CBC-encrypted by the harness
	fuzzXML        = 3    // data is a POST body for DecryptXML
	fuzzNoSkew     = 0x40 // MaxSkew < 0
	fuzzRawSig     = 0x80 // use the fuzzed signature
)

var fuzzIDs = []string{sampleCorpID, "suite"}

var fuzzCrypto = sync.OnceValue(func() *Crypto {
	c, err := New(sampleToken, sampleKey, fuzzIDs...)
	if err != nil {
		panic(err)
	}
	c.Now = func() time.Time { return sampleTime }
	return c
})

// sentinels are the errors every refusal must wrap.
var sentinels = []error{ErrSignature, ErrTimestamp, ErrStale, ErrBase64, ErrCiphertext,
	ErrPadding, ErrPlaintext, ErrReceiveID, ErrEnvelope}

// FuzzDecrypt feeds Decrypt, VerifyURL and DecryptXML arbitrary input. It
// asserts that nothing panics, that every refusal wraps one sentinel and
// returns no data, that Decrypt and VerifyURL agree, and that any accepted
// message round-trips through Encrypt.
func FuzzDecrypt(f *testing.F) {
	c := fuzzCrypto()
	seal := func(pt []byte) []byte { return []byte(fuzzSeal(c, pt)) }
	sampleCT, _ := base64.StdEncoding.DecodeString(sampleEchostr)
	envelope := func(enc string) []byte {
		return []byte("<xml><ToUserName><![CDATA[" + sampleCorpID + "]]></ToUserName><Encrypt><![CDATA[" + enc +
			"]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>")
	}
	seeds := []struct {
		mode                  uint8
		sig, timestamp, nonce string
		data                  []byte
	}{
		{fuzzText | fuzzRawSig, sampleSignature, sampleTimestamp, sampleNonce, []byte(sampleEchostr)},
		{fuzzText | fuzzRawSig, flipHex(sampleSignature), sampleTimestamp, sampleNonce, []byte(sampleEchostr)},
		{fuzzText, "", sampleTimestamp, sampleNonce, []byte(strings.ReplaceAll(sampleEchostr, "+", " "))},
		{fuzzText, "", sampleTimestamp, sampleNonce, []byte("!!!!" + sampleEchostr[4:])},
		{fuzzText, "", sampleTimestamp, sampleNonce, []byte(strings.TrimRight(sampleEchostr, "="))},
		{fuzzText, "", sampleTimestamp, sampleNonce, nil},
		{fuzzText, "", ts(-301 * time.Second), sampleNonce, []byte(sampleEchostr)},
		{fuzzText, "", ts(301 * time.Second), sampleNonce, []byte(sampleEchostr)},
		{fuzzText, "", "14096x9589", sampleNonce, []byte(sampleEchostr)},
		{fuzzCiphertext, "", sampleTimestamp, sampleNonce, sampleCT},
		{fuzzCiphertext, "", sampleTimestamp, sampleNonce, sampleCT[:16]},
		{fuzzCiphertext, "", sampleTimestamp, sampleNonce, sampleCT[:40]},
		{fuzzPlaintext, "", sampleTimestamp, sampleNonce, good("<xml><MsgType>event</MsgType></xml>", sampleCorpID)},
		{fuzzPlaintext, "", sampleTimestamp, sampleNonce, good("", "suite")},
		{fuzzPlaintext | fuzzNoSkew, "", "1", "", good("<xml/>", "suite")},
		{fuzzPlaintext, "", sampleTimestamp, sampleNonce, good("m", "wx-intruder")},
		{fuzzPlaintext, "", sampleTimestamp, sampleNonce, withLast(good("m", sampleCorpID), 33)},
		{fuzzPlaintext, "", sampleTimestamp, sampleNonce, withLast(good("m", sampleCorpID), 0)},
		{fuzzPlaintext, "", sampleTimestamp, sampleNonce, unequalPad(good("m", sampleCorpID))},
		{fuzzPlaintext, "", sampleTimestamp, sampleNonce, pad32(make([]byte, 12))},
		{fuzzPlaintext, "", sampleTimestamp, sampleNonce, pad32(layout(0xFFFFFFFF, []byte("ab"+sampleCorpID)))},
		{fuzzPlaintext, "", sampleTimestamp, sampleNonce, pad32(layout(21, []byte("ab"+sampleCorpID)))},
		{fuzzXML, "", sampleTimestamp, sampleNonce, envelope(sampleEchostr)},
		{fuzzXML, "", sampleTimestamp, sampleNonce, envelope(string(seal(good("<xml/>", sampleCorpID))))},
		{fuzzXML, "", sampleTimestamp, sampleNonce, []byte("<xml><Encrypt></Encrypt></xml>")},
		{fuzzXML | fuzzRawSig, sampleSignature, sampleTimestamp, sampleNonce, []byte("<xml><Encrypt>" + sampleEchostr + "</Encrypt></xml>")},
	}
	for _, s := range seeds {
		f.Add(s.mode, s.sig, s.timestamp, s.nonce, s.data)
	}

	f.Fuzz(func(t *testing.T, mode uint8, sig, timestamp, nonce string, data []byte) {
		t.Parallel() // seeds run in parallel; no effect while fuzzing
		c := c       // replaced below by a copy with other options
		if mode&fuzzNoSkew != 0 {
			noSkew := *c
			noSkew.MaxSkew = -1
			c = &noSkew
		}
		var (
			msg []byte
			rid string
			err error
			enc string
		)
		switch mode & 3 {
		case fuzzText:
			enc = string(data)
		case fuzzCiphertext:
			enc = base64.StdEncoding.EncodeToString(data)
		case fuzzPlaintext:
			enc = fuzzSeal(c, data[:len(data)-len(data)%16])
		case fuzzXML:
			if env, perr := ParseEnvelope(data); perr == nil {
				enc = env.Encrypt
			}
		}
		if mode&fuzzRawSig == 0 {
			sig = c.Signature(timestamp, nonce, enc)
		}

		if mode&3 == fuzzXML {
			msg, rid, err = c.DecryptXML(sig, timestamp, nonce, data)
		} else {
			msg, rid, err = c.Decrypt(sig, timestamp, nonce, enc)
			echo, verr := c.VerifyURL(sig, timestamp, nonce, enc)
			if !bytes.Equal(echo, msg) || (verr == nil) != (err == nil) {
				t.Fatalf("VerifyURL = %q, %v but Decrypt = %q, %v", echo, verr, msg, err)
			}
		}

		if err != nil {
			if msg != nil || rid != "" {
				t.Fatalf("refusal %v returned data %q, %q", err, msg, rid)
			}
			n := 0
			for _, s := range sentinels {
				if errors.Is(err, s) {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("error %q wraps %d sentinels, want exactly 1", err, n)
			}
			if strings.Contains(err.Error(), sampleToken) {
				t.Fatalf("error %q reveals the token", err)
			}
			return
		}

		if !slices.Contains(fuzzIDs, rid) {
			t.Fatalf("accepted receive id %q, configured %q", rid, fuzzIDs)
		}
		// Round trip: what was accepted encrypts back to the same message.
		rc := *c
		rc.Rand = bytes.NewReader(bytes.Repeat([]byte{7}, 16))
		out, err := rc.Encrypt(msg, rid, timestamp, "fuzz")
		if err != nil {
			t.Fatalf("Encrypt of an accepted message: %v", err)
		}
		r := parseReply(t, out)
		msg2, rid2, err := c.Decrypt(r.MsgSignature, r.TimeStamp, r.Nonce, r.Encrypt)
		if err != nil || !bytes.Equal(msg2, msg) || rid2 != rid {
			t.Fatalf("round trip = %q, %q, %v; want %q, %q", msg2, rid2, err, msg, rid)
		}
		if mode&3 == fuzzPlaintext {
			pt := data[:len(data)-len(data)%16]
			if !bytes.Equal(msg, pt[20:20+len(msg)]) {
				t.Fatalf("msg %q is not the fuzzer's plaintext %q", msg, pt)
			}
		}
	})
}

// fuzzSeal encrypts raw (a multiple of 16 bytes) without adding padding.
func fuzzSeal(c *Crypto, raw []byte) string {
	out := make([]byte, len(raw))
	cipher.NewCBCEncrypter(c.block, c.iv[:]).CryptBlocks(out, raw)
	return base64.StdEncoding.EncodeToString(out)
}
