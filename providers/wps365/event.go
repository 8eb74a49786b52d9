package wps365

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// ErrBadEvent is an encrypted event body that fails its signature check,
// is stale, or does not decrypt. It never carries the secret or the
// plaintext.
var ErrBadEvent = errors.New("wps365: bad event body")

// EventEnvelope is the body WPS 365 posts for a subscribed event when
// encryption is configured (the WPS open-platform documentation).
type EventEnvelope struct {
	// Topic and Operation name the event ("kso.app_chat.message", "create").
	Topic     string `json:"topic"`
	Operation string `json:"operation"`
	// Time is the unix time in seconds the event was signed.
	Time int64 `json:"time"`
	// Nonce is random; its first 16 bytes are the AES IV.
	Nonce string `json:"nonce"`
	// Signature is base64url without padding of the HMAC-SHA256 below.
	Signature string `json:"signature"`
	// EncryptedData is base64 (standard alphabet) of AES-256-CBC ciphertext.
	EncryptedData string `json:"encrypted_data"`
}

// EventSignature returns the signature an event envelope must carry:
// base64url_nopad(HMAC-SHA256(key=secret, appID + ":" + topic + ":" + nonce +
// ":" + time + ":" + encrypted_data)).
func EventSignature(appID, secret string, e *EventEnvelope) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(appID + ":" + e.Topic + ":" + e.Nonce + ":" + strconv.FormatInt(e.Time, 10) + ":" + e.EncryptedData))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// eventKey is the AES-256 key of event bodies: the 32 ASCII bytes of the
// lowercase hex MD5 of the app secret.
func eventKey(secret string) []byte {
	sum := md5.Sum([]byte(secret))
	return []byte(hex.EncodeToString(sum[:]))
}

// OpenEvent checks e's signature (constant time) and that e.Time is within
// maxSkew of now (maxSkew <= 0 means [DefaultMaxSkew]), then decrypts
// encrypted_data: AES-256-CBC with key lowercase_hex(md5(secret)) and IV
// nonce[:16], PKCS#7 padding removed. It returns the plaintext (JSON), or an
// error wrapping [ErrBadEvent].
func OpenEvent(appID, secret string, e *EventEnvelope, now time.Time, maxSkew time.Duration) ([]byte, error) {
	if maxSkew <= 0 {
		maxSkew = DefaultMaxSkew
	}
	want := EventSignature(appID, secret, e)
	if subtle.ConstantTimeCompare([]byte(e.Signature), []byte(want)) != 1 {
		return nil, fmt.Errorf("%w: signature mismatch", ErrBadEvent)
	}
	if d := now.Sub(time.Unix(e.Time, 0)); d > maxSkew || d < -maxSkew {
		return nil, fmt.Errorf("%w: time is %s away from now", ErrBadEvent, d.Round(time.Second))
	}
	if len(e.Nonce) < aes.BlockSize {
		return nil, fmt.Errorf("%w: nonce shorter than %d bytes", ErrBadEvent, aes.BlockSize)
	}
	ct, err := base64.StdEncoding.DecodeString(e.EncryptedData)
	if err != nil {
		return nil, fmt.Errorf("%w: encrypted_data is not base64", ErrBadEvent)
	}
	if len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("%w: ciphertext is not whole blocks", ErrBadEvent)
	}
	block, err := aes.NewCipher(eventKey(secret))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadEvent, err)
	}
	pt := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, []byte(e.Nonce[:aes.BlockSize])).CryptBlocks(pt, ct)
	n := int(pt[len(pt)-1])
	if n == 0 || n > aes.BlockSize || n > len(pt) {
		return nil, fmt.Errorf("%w: bad padding", ErrBadEvent)
	}
	for _, b := range pt[len(pt)-n:] {
		if int(b) != n {
			return nil, fmt.Errorf("%w: bad padding", ErrBadEvent)
		}
	}
	return pt[:len(pt)-n], nil
}
