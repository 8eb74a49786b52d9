//go:build !linux

package bench

import "os/exec"

// setDeathSignal does nothing where the platform has no death signal.
func setDeathSignal(*exec.Cmd) {}
