// Package msgcrypt implements WeCom's callback message crypto (企业微信回调
// 加解密方案): the msg_signature check, AES-256-CBC decryption of callbacks and
// URL-verification echostrs, and encryption of passive replies.
//
// The algorithm (spec wecom.md §8.2):
//
//	AESKey      = Base64_Decode(EncodingAESKey + "=")              // 32 bytes
//	plaintext   = random(16) + msg_len(4, big-endian) + msg + receiveid
//	msg_encrypt = Base64(AES-256-CBC(key=AESKey, iv=AESKey[:16], PKCS#7(plaintext, 32)))
//	signature   = hex(SHA1(join(sort(token, timestamp, nonce, msg_encrypt))))
//
// Decryption authenticates first (constant-time signature comparison), then
// refuses timestamps outside the allowed skew, malformed base64, short or
// misaligned ciphertexts, bad padding, malformed plaintext layouts and
// unexpected receive ids, each with its own sentinel error (see ErrSignature
// and the others). No input makes it panic.
//
// The receive id is the corpid for a self-built app's callbacks, the suite id
// for a third-party app's instruction callbacks, and an authorising corp's id
// (or the provider's corpid for URL verification) for third-party data
// callbacks; configure every id an endpoint may legitimately see.
//
// Callers should bound the size of request bodies before handing them here.
package msgcrypt

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultMaxSkew is the largest distance between a callback's timestamp and
// the clock that Decrypt, DecryptXML and VerifyURL accept when Crypto.MaxSkew
// is zero.
const DefaultMaxSkew = 5 * time.Minute

const (
	encodingAESKeyLen = 43 // characters of an EncodingAESKey
	aesKeyLen         = 32 // bytes of the decoded AESKey (AES-256)
	padBlock          = 32 // PKCS#7 block size used by WeCom
	randomLen         = 16 // random prefix of the plaintext
	headerLen         = randomLen + 4
	maxTimestampLen   = 18 // digits; keeps the value well inside int64
	maxNonceLen       = 64
	maxQuotedIDLen    = 64 // bytes of a refused receive id quoted in an error
)

// Crypto encrypts, decrypts and signs the callback messages of one WeCom
// callback endpoint (one Token and EncodingAESKey).
//
// Create it with New. The exported fields are options; set them before the
// first use. After that a Crypto is safe for concurrent use.
//
// Formatting a Crypto with any fmt verb prints no key material.
type Crypto struct {
	// Now is the clock used to refuse stale or future timestamps and to
	// stamp replies. Nil means time.Now.
	Now func() time.Time

	// MaxSkew is the largest accepted distance, past or future, between a
	// callback's timestamp and Now. Zero means DefaultMaxSkew; a negative
	// value turns the check off (the timestamp must still be well-formed).
	MaxSkew time.Duration

	// Rand supplies the 16 random bytes of every encrypted reply and the
	// nonces Encrypt makes up. Nil means crypto/rand.Reader; tests may set a
	// deterministic reader.
	Rand io.Reader

	token      string
	block      cipher.Block
	iv         [aes.BlockSize]byte
	receiveIDs []string
}

// New returns a Crypto for the callback endpoint configured with token and
// encodingAESKey (43 characters, the base64 form of a 32-byte AES key without
// its trailing "=").
//
// receiveIDs are the receive ids decrypted messages may carry (corpid, suite
// id, …; "" for a personal third-party app). If none are given, any receive id
// is accepted and the caller must check the one Decrypt returns.
//
// Errors wrap ErrConfig and name the problem, never the key.
func New(token, encodingAESKey string, receiveIDs ...string) (*Crypto, error) {
	if token == "" {
		return nil, fmt.Errorf("msgcrypt: %w: Token is empty", ErrConfig)
	}
	if n := len(encodingAESKey); n != encodingAESKeyLen {
		return nil, fmt.Errorf("msgcrypt: %w: EncodingAESKey must be %d characters, got %d",
			ErrConfig, encodingAESKeyLen, n)
	}
	key, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	if err != nil {
		var corrupt base64.CorruptInputError
		if errors.As(err, &corrupt) {
			return nil, fmt.Errorf("msgcrypt: %w: EncodingAESKey is not base64: bad character at offset %d",
				ErrConfig, int64(corrupt))
		}
		return nil, fmt.Errorf("msgcrypt: %w: EncodingAESKey is not base64", ErrConfig)
	}
	if len(key) != aesKeyLen {
		return nil, fmt.Errorf("msgcrypt: %w: EncodingAESKey decodes to %d bytes, want %d",
			ErrConfig, len(key), aesKeyLen)
	}
	block, err := aes.NewCipher(key)
	if err != nil { // unreachable: the key is 32 bytes
		return nil, fmt.Errorf("msgcrypt: %w: AES key rejected", ErrConfig)
	}
	c := &Crypto{token: token, block: block, receiveIDs: slices.Clone(receiveIDs)}
	copy(c.iv[:], key[:aes.BlockSize])
	clear(key)
	return c, nil
}

// String describes the Crypto without any key material. It and Format have
// value receivers so that a copied Crypto is redacted too.
func (c Crypto) String() string {
	return fmt.Sprintf("msgcrypt.Crypto{receiveIDs: %q, key: redacted}", c.receiveIDs)
}

// Format implements fmt.Formatter so that no verb (%v, %+v, %#v, %x, …)
// prints the Token or the key; it always writes String.
func (c Crypto) Format(f fmt.State, _ rune) {
	_, _ = io.WriteString(f, c.String())
}

// ReceiveIDs returns a copy of the receive ids the Crypto accepts (nil: any).
func (c *Crypto) ReceiveIDs() []string {
	return slices.Clone(c.receiveIDs)
}

// Signature returns the msg_signature of a message: the lower-case hex SHA-1
// of token, timestamp, nonce and encrypted, sorted lexicographically and
// concatenated. For URL verification encrypted is the echostr; for POST
// callbacks and replies it is the <Encrypt> text.
func (c *Crypto) Signature(timestamp, nonce, encrypted string) string {
	parts := [4]string{c.token, timestamp, nonce, encrypted}
	slices.Sort(parts[:])
	h := sha1.New()
	for _, p := range parts {
		_, _ = io.WriteString(h, p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// VerifyURL answers WeCom's GET URL verification: it checks msgSignature over
// timestamp, nonce and echostr (all taken from the URL-decoded query, e.g. by
// url.ParseQuery) and returns the decrypted echo, which the handler must write
// back as the whole response body (no quotes, BOM or newline).
//
// It applies every check Decrypt applies, including the receive id.
func (c *Crypto) VerifyURL(msgSignature, timestamp, nonce, echostr string) ([]byte, error) {
	msg, _, err := c.open("verify URL", msgSignature, timestamp, nonce, echostr)
	if err != nil {
		return nil, err
	}
	return msg, nil
}

// Decrypt authenticates and decrypts the <Encrypt> text of a POST callback
// and returns the message (the inner XML) and its receive id.
//
// In order it refuses: a signature mismatch (ErrSignature), a malformed
// timestamp (ErrTimestamp) or one outside the skew (ErrStale), text that is
// not base64 even after replacing spaces by '+' (ErrBase64), a ciphertext
// shorter than 32 bytes or not a multiple of 16 (ErrCiphertext), bad PKCS#7
// padding (ErrPadding), a plaintext shorter than 20 bytes or with a msg_len
// past its end (ErrPlaintext), and a receive id not configured in New
// (ErrReceiveID). On error msg is nil and receiveID is empty.
func (c *Crypto) Decrypt(msgSignature, timestamp, nonce, encrypted string) (msg []byte, receiveID string, err error) {
	return c.open("decrypt", msgSignature, timestamp, nonce, encrypted)
}

// DecryptXML is Decrypt for a whole POST callback body
// (<xml><ToUserName/><Encrypt/><AgentID/></xml>): it parses the envelope
// (ErrEnvelope if it is not one) and decrypts its <Encrypt> text.
func (c *Crypto) DecryptXML(msgSignature, timestamp, nonce string, body []byte) (msg []byte, receiveID string, err error) {
	env, err := ParseEnvelope(body)
	if err != nil {
		return nil, "", fmt.Errorf("msgcrypt: decrypt XML: %w", err)
	}
	return c.open("decrypt XML", msgSignature, timestamp, nonce, env.Encrypt)
}

// Envelope is the outer XML of an encrypted POST callback. Its fields are
// unauthenticated until the Encrypt text has been decrypted.
type Envelope struct {
	// ToUserName is the corpid, or the suite id for third-party
	// instruction callbacks.
	ToUserName string
	// Encrypt is the msg_encrypt text the signature covers.
	Encrypt string
	// AgentID is the app's agentid; empty for suite callbacks.
	AgentID string
}

type xmlEnvelope struct {
	XMLName    xml.Name `xml:"xml"`
	ToUserName string   `xml:"ToUserName"`
	Encrypt    string   `xml:"Encrypt"`
	AgentID    string   `xml:"AgentID"`
}

// ParseEnvelope parses the outer XML of a POST callback. Surrounding
// whitespace is trimmed from each field. It fails with ErrEnvelope if the
// body is not well-formed XML with an <xml> root and a non-empty <Encrypt>.
func ParseEnvelope(body []byte) (Envelope, error) {
	var x xmlEnvelope
	if err := xml.Unmarshal(body, &x); err != nil {
		return Envelope{}, fmt.Errorf("%w: %w", ErrEnvelope, err)
	}
	env := Envelope{
		ToUserName: strings.TrimSpace(x.ToUserName),
		Encrypt:    strings.TrimSpace(x.Encrypt),
		AgentID:    strings.TrimSpace(x.AgentID),
	}
	if env.Encrypt == "" {
		return Envelope{}, fmt.Errorf("%w: no <Encrypt> text", ErrEnvelope)
	}
	return env, nil
}

// Encrypt encrypts msg (the reply XML) for receiveID (the corpid for a
// self-built app) and returns the passive-reply envelope
//
//	<xml><Encrypt><![CDATA[…]]></Encrypt><MsgSignature><![CDATA[…]]></MsgSignature><TimeStamp>…</TimeStamp><Nonce><![CDATA[…]]></Nonce></xml>
//
// An empty timestamp means Now; an empty nonce means a fresh random one.
// A given timestamp must be decimal seconds (ErrTimestamp) and a given nonce
// 1 to 64 ASCII letters, digits, '-' or '_' (ErrNonce).
func (c *Crypto) Encrypt(msg []byte, receiveID string, timestamp, nonce string) (envelopeXML []byte, err error) {
	if timestamp == "" {
		timestamp = strconv.FormatInt(c.now().Unix(), 10)
	} else if _, err := parseTimestamp(timestamp); err != nil {
		return nil, fmt.Errorf("msgcrypt: encrypt: %w", err)
	}
	if nonce == "" {
		if nonce, err = c.newNonce(); err != nil {
			return nil, fmt.Errorf("msgcrypt: encrypt: %w", err)
		}
	} else if err := checkNonce(nonce); err != nil {
		return nil, fmt.Errorf("msgcrypt: encrypt: %w", err)
	}
	enc, err := c.seal(msg, receiveID)
	if err != nil {
		return nil, fmt.Errorf("msgcrypt: encrypt: %w", err)
	}
	sig := c.Signature(timestamp, nonce, enc)

	var b bytes.Buffer
	b.Grow(len(enc) + len(sig) + len(timestamp) + len(nonce) + 128)
	b.WriteString("<xml><Encrypt><![CDATA[")
	b.WriteString(enc)
	b.WriteString("]]></Encrypt><MsgSignature><![CDATA[")
	b.WriteString(sig)
	b.WriteString("]]></MsgSignature><TimeStamp>")
	b.WriteString(timestamp)
	b.WriteString("</TimeStamp><Nonce><![CDATA[")
	b.WriteString(nonce)
	b.WriteString("]]></Nonce></xml>")
	return b.Bytes(), nil
}

// Seal encrypts msg for receiveID and returns the base64 msg_encrypt text,
// unsigned. Encrypt is Seal plus Signature plus the reply envelope; Seal on
// its own serves simulators that build callback requests.
func (c *Crypto) Seal(msg []byte, receiveID string) (string, error) {
	enc, err := c.seal(msg, receiveID)
	if err != nil {
		return "", fmt.Errorf("msgcrypt: seal: %w", err)
	}
	return enc, nil
}

func (c *Crypto) seal(msg []byte, receiveID string) (string, error) {
	if uint64(len(msg)) > math.MaxUint32 || len(msg) > math.MaxInt-headerLen-padBlock-len(receiveID) {
		return "", fmt.Errorf("%w: %d bytes", ErrMessage, len(msg))
	}
	n := headerLen + len(msg) + len(receiveID)
	pad := padBlock - n%padBlock // 1..32
	buf := make([]byte, n+pad)
	if _, err := io.ReadFull(c.rand(), buf[:randomLen]); err != nil {
		return "", fmt.Errorf("%w: %w", ErrRandom, err)
	}
	binary.BigEndian.PutUint32(buf[randomLen:headerLen], uint32(len(msg)))
	copy(buf[headerLen:], msg)
	copy(buf[headerLen+len(msg):], receiveID)
	for i := n; i < len(buf); i++ {
		buf[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(c.block, c.iv[:]).CryptBlocks(buf, buf)
	return base64.StdEncoding.EncodeToString(buf), nil
}

// open runs the whole receive-side checklist (spec §8.2) on one message.
func (c *Crypto) open(op, msgSignature, timestamp, nonce, encrypted string) ([]byte, string, error) {
	fail := func(err error) ([]byte, string, error) {
		return nil, "", fmt.Errorf("msgcrypt: %s: %w", op, err)
	}

	// Authenticate. A '+' that was not percent-encoded in the query arrives
	// as a space; WeCom signed the text with the '+'.
	if !c.signatureMatches(msgSignature, timestamp, nonce, encrypted) {
		repaired := strings.ReplaceAll(encrypted, " ", "+")
		if repaired == encrypted || !c.signatureMatches(msgSignature, timestamp, nonce, repaired) {
			return fail(ErrSignature)
		}
		encrypted = repaired
	}

	if err := c.checkTimestamp(timestamp); err != nil {
		return fail(err)
	}

	ct, err := base64.StdEncoding.DecodeString(encrypted)
	if err != nil && strings.Contains(encrypted, " ") {
		ct, err = base64.StdEncoding.DecodeString(strings.ReplaceAll(encrypted, " ", "+"))
	}
	if err != nil {
		return fail(fmt.Errorf("%w: %w", ErrBase64, err))
	}

	if len(ct) < padBlock {
		return fail(fmt.Errorf("%w: %d bytes, want at least %d", ErrCiphertext, len(ct), padBlock))
	}
	if len(ct)%aes.BlockSize != 0 {
		return fail(fmt.Errorf("%w: %d bytes, not a multiple of %d", ErrCiphertext, len(ct), aes.BlockSize))
	}
	pt := ct // decrypt in place
	cipher.NewCBCDecrypter(c.block, c.iv[:]).CryptBlocks(pt, ct)

	pad := int(pt[len(pt)-1])
	if pad < 1 || pad > padBlock {
		return fail(fmt.Errorf("%w: pad length %d outside 1..%d", ErrPadding, pad, padBlock))
	}
	for _, b := range pt[len(pt)-pad:] {
		if int(b) != pad {
			return fail(fmt.Errorf("%w: pad bytes differ (pad length %d)", ErrPadding, pad))
		}
	}
	pt = pt[:len(pt)-pad]

	if len(pt) < headerLen {
		return fail(fmt.Errorf("%w: %d bytes after unpadding, want at least %d", ErrPlaintext, len(pt), headerLen))
	}
	msgLen := uint64(binary.BigEndian.Uint32(pt[randomLen:headerLen]))
	if rest := uint64(len(pt) - headerLen); msgLen > rest {
		return fail(fmt.Errorf("%w: msg_len %d exceeds the %d bytes that follow it", ErrPlaintext, msgLen, rest))
	}
	end := headerLen + int(msgLen)
	msg := pt[headerLen:end:end]
	receiveID := string(pt[end:])

	if len(c.receiveIDs) > 0 && !slices.Contains(c.receiveIDs, receiveID) {
		return fail(fmt.Errorf("%w: %s", ErrReceiveID, quoteID(receiveID)))
	}
	return msg, receiveID, nil
}

func (c *Crypto) signatureMatches(msgSignature, timestamp, nonce, encrypted string) bool {
	want := c.Signature(timestamp, nonce, encrypted)
	got := []byte(msgSignature)
	for i, b := range got { // accept upper-case hex
		if 'A' <= b && b <= 'F' {
			got[i] = b + ('a' - 'A')
		}
	}
	return subtle.ConstantTimeCompare([]byte(want), got) == 1
}

func (c *Crypto) checkTimestamp(timestamp string) error {
	sec, err := parseTimestamp(timestamp)
	if err != nil {
		return err
	}
	skew := c.MaxSkew
	if skew == 0 {
		skew = DefaultMaxSkew
	}
	if skew < 0 {
		return nil
	}
	age := c.now().Sub(time.Unix(sec, 0)) // saturates instead of overflowing
	switch {
	case age > skew:
		return fmt.Errorf("%w: timestamp %d is %s old, more than %s", ErrStale, sec, age, skew)
	case age < -skew:
		return fmt.Errorf("%w: timestamp %d is %s in the future, more than %s", ErrStale, sec, -age, skew)
	}
	return nil
}

// parseTimestamp accepts 1 to 18 ASCII digits (no sign, no spaces).
func parseTimestamp(s string) (int64, error) {
	if s == "" || len(s) > maxTimestampLen {
		return 0, fmt.Errorf("%w: want 1 to %d digits, got %d bytes", ErrTimestamp, maxTimestampLen, len(s))
	}
	var v int64
	for i := 0; i < len(s); i++ {
		d := s[i]
		if d < '0' || d > '9' {
			return 0, fmt.Errorf("%w: non-digit at offset %d", ErrTimestamp, i)
		}
		v = v*10 + int64(d-'0')
	}
	return v, nil
}

func checkNonce(s string) error {
	if s == "" || len(s) > maxNonceLen {
		return fmt.Errorf("%w: want 1 to %d characters, got %d bytes", ErrNonce, maxNonceLen, len(s))
	}
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9', b == '-', b == '_':
		default:
			return fmt.Errorf("%w: disallowed byte at offset %d", ErrNonce, i)
		}
	}
	return nil
}

// newNonce returns 10 random decimal digits, like WeCom's own nonces.
func (c *Crypto) newNonce() (string, error) {
	var b [8]byte
	if _, err := io.ReadFull(c.rand(), b[:]); err != nil {
		return "", fmt.Errorf("%w: %w", ErrRandom, err)
	}
	return fmt.Sprintf("%010d", binary.BigEndian.Uint64(b[:])%1e10), nil
}

func (c *Crypto) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Crypto) rand() io.Reader {
	if c.Rand != nil {
		return c.Rand
	}
	return rand.Reader
}

// quoteID quotes a refused receive id for an error, cut to a sane length.
func quoteID(id string) string {
	if len(id) > maxQuotedIDLen {
		return strconv.Quote(id[:maxQuotedIDLen]) + "…"
	}
	return strconv.Quote(id)
}
