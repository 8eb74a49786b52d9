package redistest

import (
	"os/exec"
	"syscall"
)

// setDeathSignal makes the kernel kill redis-server if the test process dies
// before its cleanup runs (a crashed or killed `go test`).
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
