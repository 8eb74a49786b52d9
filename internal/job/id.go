package job

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"strings"
	"time"
)

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// NewID returns a new dispatcher message id for app: the app name, a dot, and 26
// characters of time-ordered randomness (48 bits of milliseconds, 80 random bits),
// e.g. "hr-bot.01jd8x7c3k9f2m4q6r8t0v2w4y". The app is part of the id so that a
// message can be found from its id alone, in the app's own Redis hash slot.
func NewID(app string, now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	if _, err := rand.Read(b[6:]); err != nil {
		panic(fmt.Sprintf("job: crypto/rand failed: %v", err))
	}
	return app + "." + idEncoding.EncodeToString(b[:])
}

// AppOf returns the app a message id belongs to.
func AppOf(id string) (string, error) {
	app, rest, ok := strings.Cut(id, ".")
	if !ok || app == "" || rest == "" {
		return "", fmt.Errorf("job: %q is not a message id (want <app>.<random>)", id)
	}
	return app, nil
}
