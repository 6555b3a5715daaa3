package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// soakLog is a child's stdout and stderr, kept whole across its restarts: the soak
// greps it for secrets at the end.
type soakLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *soakLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *soakLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// soakChild is one process the soak starts from its own binary: a serve, a worker or
// the Graph simulator. It can be killed and started again with the same arguments.
type soakChild struct {
	name string // "serve-1", "worker-2", "graph-sim"
	kind string // "serve", "worker", "graph-sim"
	bin  string
	args []string
	env  []string
	addr string // the HTTP address of a serve or the simulator
	out  soakLog

	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan struct{}
	restarts int
	since    time.Time // when it last became ready
}

// start runs the child and returns once it is ready (a serve's /healthz answers 200, a
// worker logged "worker running", the simulator accepts connections), or fails after
// a minute.
func (c *soakChild) start(ctx context.Context) error {
	cmd := exec.Command(c.bin, c.args...)
	cmd.Env = c.env
	cmd.Stdout, cmd.Stderr = &c.out, &c.out
	cmd.SysProcAttr = childAttr()
	mark := len(c.out.String())
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", c.name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	c.mu.Lock()
	c.cmd, c.exited = cmd, done
	c.mu.Unlock()

	deadline := time.Now().Add(time.Minute)
	client := &http.Client{Timeout: 2 * time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return fmt.Errorf("%s exited while starting: %s", c.name, lastLines(c.out.String()[mark:], 3))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		ready := false
		switch c.kind {
		case "serve":
			// Up is enough: /readyz also wants the projections within 1,000 events of
			// the log, which a process restarted mid-load may take a while to see.
			if resp, err := client.Get("http://" + c.addr + "/healthz"); err == nil {
				resp.Body.Close()
				ready = resp.StatusCode == http.StatusOK
			}
		case "worker":
			ready = strings.Contains(c.out.String()[mark:], `"msg":"worker running"`)
		default:
			if conn, err := net.DialTimeout("tcp", c.addr, time.Second); err == nil {
				conn.Close()
				ready = true
			}
		}
		if ready {
			c.mu.Lock()
			c.since = time.Now()
			c.mu.Unlock()
			return nil
		}
	}
	return fmt.Errorf("%s was not ready within a minute: %s", c.name, lastLines(c.out.String()[mark:], 3))
}

// kill ends the child with SIGKILL and waits for it to be gone.
func (c *soakChild) kill() {
	c.mu.Lock()
	cmd, done := c.cmd, c.exited
	c.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// restart kills the child (if running) and starts it again.
func (c *soakChild) restart(ctx context.Context) error {
	c.kill()
	c.mu.Lock()
	c.restarts++
	c.mu.Unlock()
	return c.start(ctx)
}

// stop ends the child with SIGTERM, and SIGKILL after timeout; it reports whether the
// child stopped on SIGTERM.
func (c *soakChild) stop(timeout time.Duration) bool {
	c.mu.Lock()
	cmd, done := c.cmd, c.exited
	c.mu.Unlock()
	if cmd == nil {
		return true
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		return true
	case <-time.After(timeout):
		c.kill()
		return false
	}
}

// lastLines is the last n lines of s, on one line.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return oneLine(strings.Join(lines, " | "))
}

// childEnv is the soak's own environment without the variables the children get from
// the soak (the database, every ATLAS_ setting), plus extra.
func childEnv(extra map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "DATABASE_URL" || strings.HasPrefix(k, "ATLAS_") {
			continue
		}
		env = append(env, kv)
	}
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	return env
}

// freeAddr is a loopback address with a port free right now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
