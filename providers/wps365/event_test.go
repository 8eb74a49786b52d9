package wps365

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"
)

// sealTestEvent encrypts and signs plain the way the WPS open-platform documentation describes,
// written independently of event.go.
func sealTestEvent(appID, secret, topic, nonce string, at int64, plain []byte) *EventEnvelope {
	k := md5.Sum([]byte(secret))
	block, _ := aes.NewCipher([]byte(hex.EncodeToString(k[:])))
	pad := aes.BlockSize - len(plain)%aes.BlockSize
	buf := append(append([]byte{}, plain...), bytes.Repeat([]byte{byte(pad)}, pad)...)
	cipher.NewCBCEncrypter(block, []byte(nonce[:16])).CryptBlocks(buf, buf)
	enc := base64.StdEncoding.EncodeToString(buf)
	m := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(m, "%s:%s:%s:%d:%s", appID, topic, nonce, at, enc)
	return &EventEnvelope{Topic: topic, Operation: "create", Time: at, Nonce: nonce,
		Signature: base64.RawURLEncoding.EncodeToString(m.Sum(nil)), EncryptedData: enc}
}

func TestOpenEvent(t *testing.T) {
	t.Parallel()
	now := time.Unix(1700000000, 0)
	plain := []byte(`{"chat_id":"c1","message":{"id":"m1"}}`)
	tests := []struct {
		desc   string
		mutate func(e *EventEnvelope)
		now    time.Time
		ok     bool
	}{
		{desc: "valid", mutate: func(*EventEnvelope) {}, now: now, ok: true},
		{desc: "changed topic", mutate: func(e *EventEnvelope) { e.Topic += "x" }, now: now},
		{desc: "changed ciphertext byte", mutate: func(e *EventEnvelope) {
			b := []byte(e.EncryptedData)
			b[3] ^= 1
			e.EncryptedData = string(b)
		}, now: now},
		{desc: "stale", mutate: func(*EventEnvelope) {}, now: now.Add(10 * time.Minute)},
		{desc: "signature of other secret", mutate: func(e *EventEnvelope) {
			e.Signature = EventSignature("AK1", "other", e)
		}, now: now},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			e := sealTestEvent("AK1", "sk1", "kso.app_chat.message", "0123456789abcdefXYZ", now.Unix(), plain)
			tc.mutate(e)
			got, err := OpenEvent("AK1", "sk1", e, tc.now, 0)
			if tc.ok {
				if err != nil || !bytes.Equal(got, plain) {
					t.Fatalf("OpenEvent = %q, %v; want %q", got, err, plain)
				}
				return
			}
			if !errors.Is(err, ErrBadEvent) {
				t.Fatalf("OpenEvent err = %v, want ErrBadEvent", err)
			}
		})
	}
}
