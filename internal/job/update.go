package job

import (
	"encoding/json"
	"fmt"
)

// TypeUpdate is the asynq task type of the coalescing update task of a message.
const TypeUpdate = "msgd:update"

// TypeCancel is the asynq task type of a message's cancel task.
const TypeCancel = "msgd:cancel"

// Ref is the payload of an update or cancel task: the message it is about.
// The content of an update is not in the payload: the task applies the newest
// content stored with the message when it runs.
type Ref struct {
	// ID is the dispatcher message id.
	ID string `json:"id"`
	// App is the message's app.
	App string `json:"app"`
}

// UpdateTaskID is the asynq task id of the update task of message id: one per
// message, so updates enqueued while it waits coalesce into it.
func UpdateTaskID(id string) string { return id + "/update" }

// CancelTaskID is the asynq task id of the cancel task of message id.
func CancelTaskID(id string) string { return id + "/cancel" }

// Marshal encodes r as a task payload.
func (r *Ref) Marshal() ([]byte, error) { return json.Marshal(r) }

// DecodeRef decodes an update or cancel task payload.
func DecodeRef(b []byte) (*Ref, error) {
	var r Ref
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("job: %w: %v", ErrPayload, err)
	}
	if app, err := AppOf(r.ID); err != nil || app != r.App {
		return nil, fmt.Errorf("job: %w: id %q does not belong to app %q", ErrPayload, r.ID, r.App)
	}
	return &r, nil
}
