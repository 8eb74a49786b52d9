package job

import (
	"bytes"
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"time"
)

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// NewID returns a new dispatcher message id for app: the app name, a dot, and 26
// characters of time-ordered randomness (48 bits of milliseconds, 80 random bits),
// e.g. "hr-bot.01jd8x7c3k9f2m4q6r8t0v2w4y". The app is part of the id so that a
// message can be found from its id alone, in the app's own Redis hash slot.
//
// Ids made by one process increase strictly (as strings too): within one
// millisecond, or when the clock steps back, the next id is the last one
// plus one (a collapse key's newest message is the one made last).
func NewID(app string, now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	if _, err := rand.Read(b[6:]); err != nil {
		panic(fmt.Sprintf("job: crypto/rand failed: %v", err))
	}
	lastID.Lock()
	if bytes.Compare(b[:6], lastID.b[:6]) <= 0 {
		b = lastID.b
		for i := 15; i >= 6; i-- { // the 80 random bits + 1
			b[i]++
			if b[i] != 0 {
				break
			}
		}
	}
	lastID.b = b
	lastID.Unlock()
	return app + "." + idEncoding.EncodeToString(b[:])
}

// lastID is the newest id this process made.
var lastID struct {
	sync.Mutex
	b [16]byte
}

// AppOf returns the app a message id belongs to.
func AppOf(id string) (string, error) {
	app, rest, ok := strings.Cut(id, ".")
	if !ok || app == "" || rest == "" {
		return "", fmt.Errorf("job: %q is not a message id (want <app>.<random>)", id)
	}
	return app, nil
}

// TimeOf returns the creation time (to the millisecond) a message id carries.
func TimeOf(id string) (time.Time, bool) {
	_, rest, ok := strings.Cut(id, ".")
	if !ok || len(rest) != 26 {
		return time.Time{}, false
	}
	b, err := idEncoding.DecodeString(rest)
	if err != nil || len(b) < 6 {
		return time.Time{}, false
	}
	ms := int64(binary.BigEndian.Uint64(append([]byte{0, 0}, b[:6]...)))
	return time.UnixMilli(ms), true
}
