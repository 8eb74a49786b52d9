// Package worker runs the asynq servers that consume msgdispatch's jobs and takes
// every send through the admission pipeline of docs/architecture.md (see handleSend in
// admission.go): decode, cancelled or expired, paused app, the admission gates
// (peak minutes, breaker, quota), send under its own deadline, record.
//
// Deferrals (a gate said "not now", the provider throttled, the app is paused) are
// not failures: they never spend a message's failure budget and never archive its
// task. The failure budget lives in the delivery record; asynq's own retry count
// is set so high that asynq never archives a task on its own.
package worker
