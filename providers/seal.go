package providers

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the size of a tenant key in bytes (AES-256).
const KeySize = 32

// sealedVersion starts every sealed value; the format is
// "v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>".
const sealedVersion = "v1"

// ErrWrongKey is wrapped by Open when a value was sealed with another key.
var ErrWrongKey = errors.New("sealed with another key")

// ParseKey decodes a tenant key written as 64 hex digits or as base64
// (standard or URL alphabet, with or without padding) of 32 bytes. Surrounding
// spaces are ignored. Errors never contain the key.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if isHex(s) && len(s) != 43 && len(s) != 44 { // 43 and 44 are base64 lengths of 32 bytes
		if len(s) != 2*KeySize {
			return nil, fmt.Errorf("want %d bytes as %d hex digits, got %d digits (generate one with: openssl rand -hex 32)", KeySize, 2*KeySize, len(s))
		}
		return hex.DecodeString(s)
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != KeySize {
				return nil, fmt.Errorf("want %d bytes, the key decodes to %d (generate one with: openssl rand -hex 32)", KeySize, len(b))
			}
			return b, nil
		}
	}
	return nil, fmt.Errorf("want %d bytes as 64 hex digits or base64, got %d characters of neither (generate one with: openssl rand -hex 32)", KeySize, len(s))
}

func isHex(s string) bool {
	for _, r := range s {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f' || 'A' <= r && r <= 'F') {
			return false
		}
	}
	return s != ""
}

// Cipher seals secrets with AES-256-GCM under one key: a random 96-bit nonce
// per value, and associated data that binds each value to where it is stored
// (a permanent code to its app and corp), so that a sealed value copied
// elsewhere does not open. Formatting a Cipher prints no key material.
type Cipher struct {
	aead cipher.AEAD
	id   string
}

// NewCipher returns a Cipher for a 32-byte key.
func NewCipher(key []byte) (*Cipher, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("seal: key is %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("msgdispatch tenant key id"))
	return &Cipher{aead: aead, id: hex.EncodeToString(mac.Sum(nil)[:4])}, nil
}

// KeyID names the key without revealing it: 8 hex digits of an HMAC of a
// constant under the key. Sealed values carry it, so that a value sealed with
// another key is reported as such.
func (c *Cipher) KeyID() string { return c.id }

// String describes the Cipher by its key id.
func (c *Cipher) String() string { return "providers.Cipher{key id " + c.id + "}" }

// Seal encrypts plaintext bound to aad.
func (c *Cipher) Seal(plaintext, aad []byte) (string, error) {
	nonce := make([]byte, c.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("seal: random nonce: %w", err)
	}
	out := c.aead.Seal(nonce, nonce, plaintext, aad)
	return sealedVersion + "." + c.id + "." + base64.RawURLEncoding.EncodeToString(out), nil
}

// Open decrypts a value sealed by Seal with the same aad. A value sealed with
// another key wraps ErrWrongKey; a damaged or moved one fails to authenticate.
// Errors never contain the plaintext or the key.
func (c *Cipher) Open(sealed string, aad []byte) ([]byte, error) {
	ver, rest, ok1 := strings.Cut(sealed, ".")
	id, data, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || ver != sealedVersion {
		return nil, errors.New("seal: not a sealed value")
	}
	if id != c.id {
		return nil, fmt.Errorf("seal: %w (key id %s; the configured key is %s)", ErrWrongKey, id, c.id)
	}
	raw, err := base64.RawURLEncoding.DecodeString(data)
	if err != nil || len(raw) < c.aead.NonceSize()+c.aead.Overhead() {
		return nil, errors.New("seal: sealed value is damaged")
	}
	n := c.aead.NonceSize()
	plain, err := c.aead.Open(nil, raw[:n], raw[n:], aad)
	if err != nil {
		return nil, errors.New("seal: sealed value does not authenticate (damaged, or stored for another tenant)")
	}
	return plain, nil
}
