// Package tenant keeps the tenants of a multi-tenant app in Redis: the
// companies (authorising corps) that installed a WeCom third-party or custom
// (代开发) app, with the agentid, seat count and permanent code each needs.
//
// Permanent codes are long-lived secrets: they are encrypted at rest with
// AES-256-GCM under the app's tenant_key (a random nonce per value, bound to
// the app and corp as associated data); Redis only ever holds the ciphertext,
// and no error, log line or String of this package shows a code.
//
// Redis keys, all under the app's hash tag {app}:
//
//	msgd:{app}:tenant:<corp>   hash: corp_id, corp_name, agent_id, corp_user_max,
//	                           code (sealed), state, disabled_reason, disabled_at,
//	                           authorized_at, created_at, updated_at,
//	                           code_updated_at (times in unix ms)
//	msgd:{app}:tenants         set: the corp ids
//
// Disabling a tenant also pauses it (internal/appstate), so that its messages
// wait instead of failing; adding it again (active) or removing it lifts that
// pause. Every
// change is published to the app's events stream as tenant.added,
// tenant.updated, tenant.disabled, tenant.rekeyed or tenant.removed.
package tenant

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/appstate"
	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/providers"
)

// DefaultDisabledPause is how long disabling a tenant pauses it: in effect
// until it is re-authorised or added again, which lifts the pause. Messages
// for it wait until then or until they expire.
const DefaultDisabledPause = 365 * 24 * time.Hour

// MaxCorpIDLen bounds a corp id.
const MaxCorpIDLen = 128

// ErrNotFound is wrapped by Get, Rekey and Remove for a tenant the app does not have.
var ErrNotFound = errors.New("no such tenant")

// State is a tenant's state.
type State string

const (
	// Active: messages for the tenant are sent.
	Active State = "active"
	// Disabled: the corp cancelled its authorisation or an operator disabled
	// the tenant; messages for it wait (the tenant is paused).
	Disabled State = "disabled"
)

// Tenant is one tenant of an app.
type Tenant struct {
	// ID is the authorising corp's id, as WeCom gives it to the app (for a
	// third-party app an encrypted, case-sensitive id). Required.
	ID string
	// Name is the corp's name.
	Name string
	// AgentID is the app's agentid in the corp. Required, > 0.
	AgentID int64
	// Seats is the corp's seat count (0 when unknown).
	Seats int
	// Secret is the permanent code in clear, in memory only. Get fills
	// it; List leaves it empty. Required by Add.
	Secret string
	// State is Active (the default of Add) or Disabled.
	State State
	// DisabledReason and DisabledAt say why and since when a tenant is disabled.
	DisabledReason string
	DisabledAt     time.Time
	// AuthorizedAt is when the current authorisation began; a Disable older
	// than it is ignored. Add defaults it to now.
	AuthorizedAt time.Time
	// CreatedAt, UpdatedAt and CodeUpdatedAt are kept by the store.
	CreatedAt     time.Time
	UpdatedAt     time.Time
	CodeUpdatedAt time.Time
}

// String formats t without its permanent code.
func (t Tenant) String() string {
	code := `""`
	if t.Secret != "" {
		code = "REDACTED"
	}
	return fmt.Sprintf("{CorpID:%s CorpName:%s AgentID:%d CorpUserMax:%d PermanentCode:%s State:%s DisabledReason:%s}",
		t.ID, t.Name, t.AgentID, t.Seats, code, t.State, t.DisabledReason)
}

// GoString is String for fmt's %#v.
func (t Tenant) GoString() string { return "tenant.Tenant" + t.String() }

// LogValue makes log/slog log t without its permanent code.
func (t Tenant) LogValue() slog.Value {
	return slog.GroupValue(slog.String("corp_id", t.ID), slog.Int64("agent_id", t.AgentID), slog.String("state", string(t.State)))
}

// Options tune a Store. The zero value gives the defaults.
type Options struct {
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// DisabledPause is how long Disable pauses the tenant. Default
	// DefaultDisabledPause.
	DisabledPause time.Duration
}

// Store keeps the tenants of one app. It is safe for concurrent use.
type Store struct {
	rdb    redis.UniversalClient
	app    string
	cipher *providers.Cipher
	pauses *appstate.Store
	events *record.Store
	opts   Options
}

// New returns the tenant store of app on rdb, sealing permanent codes with key
// (32 bytes; see ParseKey).
func New(rdb redis.UniversalClient, app string, key []byte, opts Options) (*Store, error) {
	if rdb == nil || app == "" {
		return nil, errors.New("tenant: a Redis client and an app are required")
	}
	c, err := providers.NewCipher(key)
	if err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.DisabledPause <= 0 {
		opts.DisabledPause = DefaultDisabledPause
	}
	return &Store{rdb: rdb, app: app, cipher: c, pauses: appstate.New(rdb), events: record.NewStore(rdb), opts: opts}, nil
}

// App returns the app the store serves.
func (s *Store) App() string { return s.app }

// Key is the Redis hash of tenant corpID of app.
func Key(app, corpID string) string { return "msgd:{" + app + "}:tenant:" + corpID }

// IndexKey is the Redis set of app's tenant corp ids.
func IndexKey(app string) string { return "msgd:{" + app + "}:tenants" }

// CheckCorpID reports whether id can be a corp id: 1 to MaxCorpIDLen letters,
// digits, '_', '-', '@' or '.'.
func CheckCorpID(id string) error {
	if id == "" || len(id) > MaxCorpIDLen {
		return fmt.Errorf("corp id must be 1 to %d characters, got %d", MaxCorpIDLen, len(id))
	}
	for _, r := range id {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', r == '_', r == '-', r == '@', r == '.':
		default:
			return fmt.Errorf("corp id %.64q: only letters, digits, '_', '-', '@' and '.' are allowed", id)
		}
	}
	return nil
}

// aad binds a sealed permanent code to its app and corp.
func (s *Store) aad(corpID string) []byte {
	return []byte("msgdispatch permanent code\x00" + s.app + "\x00" + corpID)
}

// Add adds t, or replaces the tenant with its corp id (its CreatedAt is kept),
// and publishes tenant.added or tenant.updated. State defaults to Active and
// AuthorizedAt to now; an active tenant's pause is lifted. The permanent code
// is sealed before it leaves the process.
func (s *Store) Add(ctx context.Context, t Tenant) error {
	if err := CheckCorpID(t.ID); err != nil {
		return fmt.Errorf("tenant: add: %w", err)
	}
	switch {
	case t.AgentID <= 0:
		return fmt.Errorf("tenant: add %s: agent id must be greater than 0", t.ID)
	case t.Secret == "":
		return fmt.Errorf("tenant: add %s: permanent code is required", t.ID)
	case t.Seats < 0:
		return fmt.Errorf("tenant: add %s: corp user max must not be negative", t.ID)
	}
	if t.State == "" {
		t.State = Active
	}
	if t.State != Active && t.State != Disabled {
		return fmt.Errorf("tenant: add %s: unknown state %q", t.ID, t.State)
	}
	now := s.opts.Now()
	if t.AuthorizedAt.IsZero() {
		t.AuthorizedAt = now
	}
	sealed, err := s.cipher.Seal([]byte(t.Secret), s.aad(t.ID))
	if err != nil {
		return fmt.Errorf("tenant: add %s: %w", t.ID, err)
	}
	key := Key(s.app, t.ID)
	fields := []any{
		"corp_id", t.ID, "corp_name", t.Name, "agent_id", t.AgentID, "corp_user_max", t.Seats,
		"code", sealed, "state", string(t.State), "authorized_at", ms(t.AuthorizedAt),
		"updated_at", ms(now), "code_updated_at", ms(now),
	}
	if t.State == Disabled {
		at := t.DisabledAt
		if at.IsZero() {
			at = now
		}
		fields = append(fields, "disabled_reason", t.DisabledReason, "disabled_at", ms(at))
	}
	var existed *redis.IntCmd
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		existed = p.Exists(ctx, key)
		if t.State == Active {
			p.HDel(ctx, key, "disabled_reason", "disabled_at")
		}
		p.HSet(ctx, key, fields...)
		p.HSetNX(ctx, key, "created_at", ms(now))
		p.SAdd(ctx, IndexKey(s.app), t.ID)
		return nil
	})
	if err != nil {
		return fmt.Errorf("tenant: add %s: %w", t.ID, err)
	}
	if t.State == Active {
		if err := s.pauses.Resume(ctx, s.app, t.ID); err != nil {
			return fmt.Errorf("tenant: add %s: %w", t.ID, err)
		}
	}
	typ := "tenant.added"
	if existed.Val() == 1 {
		typ = "tenant.updated"
	}
	return s.publish(ctx, typ, t.ID, now, fmt.Sprintf("agent %d, %s", t.AgentID, t.State), map[string]string{
		"agent_id": strconv.FormatInt(t.AgentID, 10), "corp_user_max": strconv.Itoa(t.Seats), "corp_name": t.Name,
	})
}

// Get returns tenant corpID with its permanent code decrypted; an error
// wrapping ErrNotFound when the app has no such tenant, and one wrapping
// ErrWrongKey when its code was sealed with another key.
func (s *Store) Get(ctx context.Context, corpID string) (*Tenant, error) {
	m, err := s.rdb.HGetAll(ctx, Key(s.app, corpID)).Result()
	if err != nil {
		return nil, fmt.Errorf("tenant: get %s: %w", corpID, err)
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("tenant: get %.64q of app %s: %w", corpID, s.app, ErrNotFound)
	}
	t := decode(m)
	if t.ID != corpID {
		return nil, fmt.Errorf("tenant: get %s: stored record names corp %q", corpID, t.ID)
	}
	code, err := s.cipher.Open(m["code"], s.aad(corpID))
	if err != nil {
		return nil, fmt.Errorf("tenant: get %s: permanent code: %w", corpID, err)
	}
	t.Secret = string(code)
	return t, nil
}

// List returns every tenant of the app, sorted by corp id, WITHOUT permanent
// codes (nothing is decrypted).
func (s *Store) List(ctx context.Context) ([]Tenant, error) {
	ids, err := s.rdb.SMembers(ctx, IndexKey(s.app)).Result()
	if err != nil {
		return nil, fmt.Errorf("tenant: list %s: %w", s.app, err)
	}
	slices.Sort(ids)
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGetAll(ctx, Key(s.app, id))
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("tenant: list %s: %w", s.app, err)
	}
	out := make([]Tenant, 0, len(ids))
	for _, c := range cmds {
		if m := c.Val(); len(m) > 0 {
			out = append(out, *decode(m))
		}
	}
	return out, nil
}

// disableScript marks a tenant disabled unless it was authorised after the
// disabling event.
//
// KEYS[1] tenant hash; ARGV[1] event time ms, ARGV[2] reason, ARGV[3] now ms,
// ARGV[4] "1" to skip the staleness check (an operator's decision).
// Returns 0 (no such tenant), -1 (stale event), 1 (disabled now) or 2
// (already disabled; unchanged).
var disableScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local auth = tonumber(redis.call('HGET', KEYS[1], 'authorized_at') or '0') or 0
if ARGV[4] ~= '1' and tonumber(ARGV[1]) < auth then return -1 end
if redis.call('HGET', KEYS[1], 'state') == 'disabled' then return 2 end
redis.call('HSET', KEYS[1], 'state', 'disabled', 'disabled_reason', ARGV[2], 'disabled_at', ARGV[1], 'updated_at', ARGV[3])
return 1
`)

// Disable marks tenant corpID disabled for reason (no secret in it) as of at,
// pauses it so that its messages wait, and publishes tenant.disabled. A tenant
// authorised after at is left alone (the event is a late repeat of an older
// authorisation's end); a zero at means now, unconditionally (an operator's
// decision). Disabling a disabled tenant only renews its pause. It reports
// whether the tenant is disabled; an unknown tenant is (false, error wrapping
// ErrNotFound).
func (s *Store) Disable(ctx context.Context, corpID, reason string, at time.Time) (bool, error) {
	now := s.opts.Now()
	force := "0"
	if at.IsZero() {
		at, force = now, "1"
	}
	n, err := disableScript.Run(ctx, s.rdb, []string{Key(s.app, corpID)}, ms(at), reason, ms(now), force).Int()
	if err != nil {
		return false, fmt.Errorf("tenant: disable %s: %w", corpID, err)
	}
	switch n {
	case 0:
		return false, fmt.Errorf("tenant: disable %.64q of app %s: %w", corpID, s.app, ErrNotFound)
	case -1:
		return false, nil
	}
	if err := s.pauses.Pause(ctx, s.app, corpID, "tenant "+corpID+" disabled: "+reason, now, s.opts.DisabledPause); err != nil {
		return true, fmt.Errorf("tenant: disable %s: %w", corpID, err)
	}
	if n == 1 {
		return true, s.publish(ctx, "tenant.disabled", corpID, now, reason, nil)
	}
	return true, nil
}

// rekeyScript replaces a tenant's sealed code.
//
// KEYS[1] tenant hash; ARGV[1] sealed code, ARGV[2] now ms. Returns 0 when
// there is no such tenant.
var rekeyScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'code', ARGV[1], 'code_updated_at', ARGV[2], 'updated_at', ARGV[2])
return 1
`)

// Rekey replaces tenant corpID's permanent code (WeCom's
// reset_permanent_code) and publishes tenant.rekeyed; its state is kept.
func (s *Store) Rekey(ctx context.Context, corpID, permanentCode string) error {
	if permanentCode == "" {
		return fmt.Errorf("tenant: rekey %s: permanent code is required", corpID)
	}
	sealed, err := s.cipher.Seal([]byte(permanentCode), s.aad(corpID))
	if err != nil {
		return fmt.Errorf("tenant: rekey %s: %w", corpID, err)
	}
	now := s.opts.Now()
	n, err := rekeyScript.Run(ctx, s.rdb, []string{Key(s.app, corpID)}, sealed, ms(now)).Int()
	if err != nil {
		return fmt.Errorf("tenant: rekey %s: %w", corpID, err)
	}
	if n == 0 {
		return fmt.Errorf("tenant: rekey %.64q of app %s: %w", corpID, s.app, ErrNotFound)
	}
	return s.publish(ctx, "tenant.rekeyed", corpID, now, "permanent code replaced", nil)
}

// Remove deletes tenant corpID, lifts its pause and publishes tenant.removed:
// later messages for it, and those waiting, fail validation as for an unknown
// tenant.
func (s *Store) Remove(ctx context.Context, corpID string) error {
	var del *redis.IntCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		del = p.Del(ctx, Key(s.app, corpID))
		p.SRem(ctx, IndexKey(s.app), corpID)
		return nil
	})
	if err != nil {
		return fmt.Errorf("tenant: remove %s: %w", corpID, err)
	}
	if del.Val() == 0 {
		return fmt.Errorf("tenant: remove %.64q of app %s: %w", corpID, s.app, ErrNotFound)
	}
	if err := s.pauses.Resume(ctx, s.app, corpID); err != nil {
		return fmt.Errorf("tenant: remove %s: %w", corpID, err)
	}
	return s.publish(ctx, "tenant.removed", corpID, s.opts.Now(), "", nil)
}

// publish writes a tenant event; its id is stable for one change.
func (s *Store) publish(ctx context.Context, typ, corpID string, at time.Time, detail string, data map[string]string) error {
	for k, v := range data {
		if v == "" {
			delete(data, k)
		}
	}
	ev := &record.ProviderEvent{
		ID:  typ + "/" + corpID + "/" + strconv.FormatInt(at.UnixNano(), 10),
		App: s.app, Type: typ, At: at, Tenant: corpID, Detail: detail, Data: data,
	}
	if err := s.events.Publish(ctx, ev); err != nil {
		return fmt.Errorf("tenant: %s %s: %w", typ, corpID, err)
	}
	return nil
}

// decode reads a tenant hash (without opening the code).
func decode(m map[string]string) *Tenant {
	i64 := func(k string) int64 { n, _ := strconv.ParseInt(m[k], 10, 64); return n }
	t := &Tenant{
		ID:             m["corp_id"],
		Name:           m["corp_name"],
		AgentID:        i64("agent_id"),
		Seats:          int(i64("corp_user_max")),
		State:          State(m["state"]),
		DisabledReason: m["disabled_reason"],
		DisabledAt:     fromMS(i64("disabled_at")),
		AuthorizedAt:   fromMS(i64("authorized_at")),
		CreatedAt:      fromMS(i64("created_at")),
		UpdatedAt:      fromMS(i64("updated_at")),
		CodeUpdatedAt:  fromMS(i64("code_updated_at")),
	}
	if t.State == "" {
		t.State = Active
	}
	return t
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n).UTC()
}
