package redistest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
)

// spawn starts redis-server bin listening on addr with working directory dir
// (created), no persistence and extra arguments, and waits until it answers.
// It returns an error wrapping errAddrInUse when the port was taken.
func spawn(bin, addr, dir string, extra ...string) (*process, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(addr)
	args := []string{
		"--port", port,
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", dir,
		"--daemonize", "no",
		"--logfile", "",
		"--loglevel", "warning",
	}
	return spawnArgs(bin, addr, append(args, extra...)...)
}

// spawnArgs starts bin with args — it must listen on addr — and waits until
// it answers.
func spawnArgs(bin, addr string, args ...string) (*process, error) {
	cmd := exec.Command(bin, args...)
	out := &limitedBuffer{limit: outputLimit}
	cmd.Stdout, cmd.Stderr = out, out
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p := &process{cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	if err := p.waitReady(addr); err != nil {
		p.kill()
		if strings.Contains(out.String(), "in use") {
			err = fmt.Errorf("%w: %w", errAddrInUse, err)
		}
		return nil, fmt.Errorf("%s on %s: %w\n%s", bin, addr, err, out.String())
	}
	return p, nil
}
