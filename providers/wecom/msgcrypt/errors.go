package msgcrypt

import "errors"

// Sentinel errors. Every error returned by this package wraps exactly one of
// them (test with errors.Is); the wrapping text adds context but never the
// Token, the EncodingAESKey or decrypted content.
var (
	// ErrConfig reports a bad Token or EncodingAESKey given to New.
	ErrConfig = errors.New("invalid configuration")

	// ErrSignature reports a msg_signature that does not match the
	// token, timestamp, nonce and encrypted text.
	ErrSignature = errors.New("signature mismatch")

	// ErrTimestamp reports a timestamp that is not a decimal number of
	// seconds (1 to 18 ASCII digits).
	ErrTimestamp = errors.New("malformed timestamp")

	// ErrNonce reports a nonce given to Encrypt that is not 1 to 64 ASCII
	// letters, digits, '-' or '_'.
	ErrNonce = errors.New("malformed nonce")

	// ErrStale reports a timestamp further than the allowed skew (default
	// 5 minutes) from the clock, in the past or in the future.
	ErrStale = errors.New("timestamp outside the allowed window")

	// ErrBase64 reports encrypted text that is not standard base64, even
	// after replacing spaces with '+'.
	ErrBase64 = errors.New("encrypted text is not valid base64")

	// ErrCiphertext reports a decoded ciphertext shorter than 32 bytes or
	// whose length is not a multiple of the AES block size (16).
	ErrCiphertext = errors.New("malformed ciphertext")

	// ErrPadding reports a decrypted text whose PKCS#7 padding (block size
	// 32) is invalid: a pad length outside 1..32 or unequal pad bytes.
	ErrPadding = errors.New("invalid PKCS#7 padding")

	// ErrPlaintext reports a decrypted text that does not have the layout
	// random(16) + msg_len(4) + msg + receiveid: shorter than 20 bytes, or
	// a msg_len that runs past its end.
	ErrPlaintext = errors.New("malformed plaintext")

	// ErrReceiveID reports a receiveid that is not one of the ids the
	// Crypto was configured with.
	ErrReceiveID = errors.New("receive id not accepted")

	// ErrEnvelope reports an XML body that is not a callback envelope with
	// a non-empty <Encrypt> element.
	ErrEnvelope = errors.New("malformed XML envelope")

	// ErrRandom reports a failure to read random bytes while encrypting.
	ErrRandom = errors.New("random source failed")

	// ErrMessage reports a message too long to encrypt (msg_len is 32 bits).
	ErrMessage = errors.New("message too long")
)
