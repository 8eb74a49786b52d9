package record

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/msgdispatch/msgdispatch/internal/job"
)

// A record is a Redis hash (Key) with one field per piece that changes on its
// own, so that marking one part sending or settling it rewrites that part and
// the small meta, never the whole message (a 1000-part message costs 1000
// part writes, not 1000 × 1000):
//
//	meta    the Record without Job and Parts (JSON)
//	job     the Job as enqueued (JSON; written by Create, never changed)
//	p:<i>   part i (JSON), i = 0 … len(Parts)-1
//	v       the version: incremented by every write (CompareAndSave compares it)
//	enq     "1" when the producer enqueued the message's task
//
// Records written before this layout hold the whole Record in the field rec;
// they are read as they are and rewritten in this layout by their next save.
const (
	fieldMeta    = "meta"
	fieldJob     = "job"
	fieldVersion = "v"
	fieldEnq     = "enq"
	fieldLegacy  = "rec"
	partPrefix   = "p:"
)

func partField(i int) string { return partPrefix + strconv.Itoa(i) }

// stored is what Redis holds of a Record's job and parts (their JSON), as the
// Record last read or wrote them.
type stored struct {
	job string
	// jobOf is the Job that job encodes (nil: unknown). A Job is never
	// changed once written (the layout above), so a record whose Job is still
	// jobOf writes its job field no more and encodes it no more.
	jobOf  *job.Send
	parts  []string
	legacy bool // the hash still has the old whole-record field
}

// encoded is a Record's hash fields to write, and what Redis holds after.
type encoded struct {
	fields []any // field, value, …
	next   stored
}

// encode returns the fields to write for rec: meta always, the job and parts
// only when they differ from what is stored. With only set, just those parts
// are looked at (the others keep their stored value, also in next).
func (rec *Record) encode(only ...int) (*encoded, error) {
	// appendMeta: the bytes of encoding/json (TestAppendMatchesEncodingJSON)
	// in a fraction of its time; every write of a record encodes its meta.
	meta, err := appendMeta(make([]byte, 0, 384), rec)
	if err != nil {
		return nil, fmt.Errorf("record: encode %s: %w", rec.ID, err)
	}
	e := &encoded{fields: []any{fieldMeta, meta}, next: stored{job: rec.stored.job, jobOf: rec.stored.jobOf}}
	if rec.Job != nil && (rec.Job != rec.stored.jobOf || rec.stored.job == "") {
		// The job's JSON is its task payload's (job.Send.Marshal): the
		// producer enqueues these very bytes (JobJSON).
		b, err := rec.Job.Marshal()
		if err != nil {
			return nil, fmt.Errorf("record: encode %s: %w", rec.ID, err)
		}
		if string(b) != rec.stored.job {
			e.fields = append(e.fields, fieldJob, b)
			e.next.job = string(b)
		}
		e.next.jobOf = rec.Job
	}
	e.next.parts = make([]string, len(rec.Parts))
	copy(e.next.parts, rec.stored.parts)
	put := func(i int) error {
		b, err := appendPart(make([]byte, 0, 512), &rec.Parts[i])
		if err != nil {
			return fmt.Errorf("record: encode %s part %d: %w", rec.ID, i, err)
		}
		if i >= len(rec.stored.parts) || string(b) != rec.stored.parts[i] {
			e.fields = append(e.fields, partField(i), b)
			e.next.parts[i] = string(b)
		}
		return nil
	}
	if only == nil {
		for i := range rec.Parts {
			if err := put(i); err != nil {
				return nil, err
			}
		}
	} else {
		for _, i := range only {
			if err := put(i); err != nil {
				return nil, err
			}
		}
		// Parts appended since the last write are new fields: write them too.
		for i := len(rec.stored.parts); i < len(rec.Parts); i++ {
			if !containsInt(only, i) {
				if err := put(i); err != nil {
					return nil, err
				}
			}
		}
	}
	return e, nil
}

// JobJSON is the job's JSON as the record last wrote or read it (empty when
// none): after Create, the task payload to enqueue.
func (rec *Record) JobJSON() string { return rec.stored.job }

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// decode builds a Record from its hash; ok is false when the hash holds none.
func decode(id string, m map[string]string) (rec *Record, ok bool, err error) {
	return decodeKnown(id, m, nil, "")
}

// decodeKnown is decode, given a job already decoded from knownJSON: when
// the record's job field holds the same bytes, the record's Job is known
// (shared, not decoded again).
func decodeKnown(id string, m map[string]string, known *job.Send, knownJSON string) (rec *Record, ok bool, err error) {
	if raw, legacy := m[fieldLegacy]; legacy && m[fieldMeta] == "" {
		rec = &Record{}
		if err := json.Unmarshal([]byte(raw), rec); err != nil {
			return nil, true, fmt.Errorf("record: decode %s: %w", id, err)
		}
		rec.stored.legacy = true
	} else {
		meta, ok := m[fieldMeta]
		if !ok {
			return nil, false, nil
		}
		rec = &Record{}
		if err := json.Unmarshal([]byte(meta), rec); err != nil {
			return nil, true, fmt.Errorf("record: decode %s: %w", id, err)
		}
		if raw := m[fieldJob]; raw != "" {
			if known != nil && raw == knownJSON {
				rec.Job = known // the task's payload, already decoded
			} else if err := json.Unmarshal([]byte(raw), &rec.Job); err != nil {
				return nil, true, fmt.Errorf("record: decode %s job: %w", id, err)
			}
			rec.stored.job, rec.stored.jobOf = raw, rec.Job
		}
		n := 0
		for f := range m {
			if strings.HasPrefix(f, partPrefix) {
				n++
			}
		}
		if n > 0 {
			rec.Parts = make([]Part, n)
			rec.stored.parts = make([]string, n)
			for i := range n {
				raw, ok := m[partField(i)]
				if !ok {
					return nil, true, fmt.Errorf("record: decode %s: part %d of %d missing", id, i, n)
				}
				if err := json.Unmarshal([]byte(raw), &rec.Parts[i]); err != nil {
					return nil, true, fmt.Errorf("record: decode %s part %d: %w", id, i, err)
				}
				rec.stored.parts[i] = raw
			}
		}
	}
	rec.Enqueued = m[fieldEnq] == "1"
	return rec, true, nil
}
