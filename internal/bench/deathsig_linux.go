package bench

import (
	"os/exec"
	"syscall"
)

// setDeathSignal kills the redis-server when the bench process dies.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
