package localcp

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// process is a child process whose output goes to a log file.
type process struct {
	name    string
	path    string   // the binary
	args    []string // its flags, for a restart
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process has exited
	err     error         // its exit status, once done
}

func startProcess(name, path string, args []string, logPath string) (*process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid: true, // Ctrl-C in a terminal reaches certplane only; it stops the children in order
		// If certplane dies without stopping them, the kernel kills them.
		Pdeathsig: syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &process{name: name, path: path, args: args, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		_ = logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// restart starts the same binary with the same flags and log. A process
// that cannot be started is returned as one that has exited at once, with
// the error as its status.
func (p *process) restart() *process {
	np, err := startProcess(p.name, p.path, p.args, p.logPath)
	if err != nil {
		np = &process{name: p.name, path: p.path, args: p.args, logPath: p.logPath, done: make(chan struct{}), err: err}
		close(np.done)
	}
	return np
}

// exitStatus says how the process ended, once done: "exit status 1",
// "signal: killed".
func (p *process) exitStatus() string {
	if p.err == nil {
		return "exit status 0"
	}
	return p.err.Error()
}

// stop sends SIGTERM, then SIGKILL after grace, and waits for the exit.
func (p *process) stop(grace time.Duration) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	return fmt.Errorf("%s did not stop within %s and was killed", p.name, grace)
}

// lastLogLine is the last non-empty line of the log, for error messages.
func (p *process) lastLogLine() string {
	f, err := os.Open(p.logPath)
	if err != nil {
		return "no log"
	}
	defer func() { _ = f.Close() }()
	const tail = 4096
	fi, err := f.Stat()
	if err != nil {
		return "no log"
	}
	off := max(fi.Size()-tail, 0)
	buf := make([]byte, fi.Size()-off)
	n, _ := f.ReadAt(buf, off)
	buf = buf[:n]
	lines := bytes.Split(bytes.TrimSpace(buf), []byte("\n"))
	if len(lines) == 0 || len(lines[len(lines)-1]) == 0 {
		if p.err != nil {
			return p.err.Error()
		}
		return "no output"
	}
	return string(lines[len(lines)-1])
}
