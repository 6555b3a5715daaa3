package pglocal

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	// fallbackUser is created (as a system user) when running as root on a machine
	// that has no postgres user.
	fallbackUser = "atlaspg"
	readyTimeout = 60 * time.Second
	// maxSocketDir keeps <socket dir>/.s.PGSQL.<port> under the 107-byte limit of a
	// Unix socket path.
	maxSocketDir = 80
)

// cluster holds the paths of one private cluster.
type cluster struct {
	dataDir  string
	lockFile string
	portFile string
	logFile  string
	sockDir  string
	initdb   string
	pgCtl    string
	// runUser is the system user that owns and runs the cluster when this process is
	// root; empty otherwise.
	runUser string
	uid     int
	gid     int
	log     *slog.Logger
}

func newCluster(opts Options, log *slog.Logger) (*cluster, error) {
	dataDir := opts.DataDir
	if dataDir == "" {
		root, err := moduleRoot()
		if err != nil {
			return nil, err
		}
		dataDir = filepath.Join(root, ".data", "pg")
	}
	dataDir, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, fmt.Errorf("pglocal: data dir: %w", err)
	}
	base, name := filepath.Split(dataDir)
	c := &cluster{
		dataDir:  dataDir,
		lockFile: filepath.Join(base, name+".lock"),
		portFile: filepath.Join(base, name+".port"),
		logFile:  filepath.Join(base, name+".log"),
		sockDir:  filepath.Join(base, name+"sock"),
		log:      log,
	}
	if len(c.sockDir) > maxSocketDir {
		c.sockDir = os.TempDir()
	}
	return c, nil
}

// url is the admin DSN of the cluster listening on port.
func (c *cluster) url(port int) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
}

// discoverPrivate finds or starts the private cluster under opts.DataDir.
func discoverPrivate(ctx context.Context, opts Options, log *slog.Logger) (Server, error) {
	c, err := newCluster(opts, log)
	if err != nil {
		return Server{}, err
	}
	if err := os.MkdirAll(filepath.Dir(c.dataDir), 0o755); err != nil {
		return Server{}, fmt.Errorf("pglocal: create %s: %w", filepath.Dir(c.dataDir), err)
	}
	unlock, err := lockFile(ctx, c.lockFile)
	if err != nil {
		return Server{}, err
	}
	defer unlock()

	// Reuse a server that is already up, whoever started it.
	if port, ok := c.pidFilePort(); ok {
		if _, err := ping(ctx, c.url(port), localTimeout); err == nil {
			return Server{URL: c.url(port), Source: SourcePrivate}, nil
		}
	}

	c.initdb, c.pgCtl = findBinaries(opts.BinDirs)
	if c.initdb == "" || c.pgCtl == "" {
		return Server{}, ErrNoPostgres
	}
	if err := c.resolveUser(ctx); err != nil {
		return Server{}, err
	}
	if err := c.ensureInitialized(ctx); err != nil {
		return Server{}, err
	}

	running, err := c.running(ctx)
	if err != nil {
		return Server{}, err
	}
	if running {
		// Up but not accepting connections yet (or the ping above raced a start-up):
		// wait for it on the port it wrote in postmaster.pid.
		port, ok := c.pidFilePort()
		if !ok {
			return Server{}, fmt.Errorf("pglocal: cluster %s is running but its postmaster.pid has no port", c.dataDir)
		}
		if err := c.waitReady(ctx, port); err != nil {
			return Server{}, err
		}
		return Server{URL: c.url(port), Source: SourcePrivate}, nil
	}

	port, err := c.choosePort()
	if err != nil {
		return Server{}, err
	}
	if err := c.start(ctx, port); err != nil {
		// Another process may have taken the port between the check and the start.
		if !portFree(port) {
			if port, err = c.newPort(); err == nil {
				err = c.start(ctx, port)
			}
		}
		if err != nil {
			return Server{}, err
		}
	}
	if err := c.waitReady(ctx, port); err != nil {
		return Server{}, err
	}
	return Server{URL: c.url(port), Source: SourcePrivate}, nil
}

// StopPrivate stops the private cluster under opts.DataDir if it is running (pg_ctl
// stop -m fast); it does nothing when there is no cluster or it is not running.
func StopPrivate(ctx context.Context, opts Options) error {
	log := opts.logger()
	c, err := newCluster(opts, log)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(c.dataDir, "postmaster.pid")); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	unlock, err := lockFile(ctx, c.lockFile)
	if err != nil {
		return err
	}
	defer unlock()

	c.initdb, c.pgCtl = findBinaries(opts.BinDirs)
	if c.pgCtl == "" {
		return ErrNoPostgres
	}
	if err := c.resolveUser(ctx); err != nil {
		return err
	}
	running, err := c.running(ctx)
	if err != nil || !running {
		return err
	}
	if out, err := c.run(ctx, c.pgCtl, "-D", c.dataDir, "-m", "fast", "-w", "stop"); err != nil {
		return fmt.Errorf("pglocal: pg_ctl stop: %w: %s", err, out)
	}
	log.Info("postgres: private cluster stopped", "data_dir", c.dataDir)
	return nil
}

// lockFile takes an exclusive flock on path, polling so that ctx can cancel the wait.
// Locks are per open file, so goroutines of one process exclude each other too.
func lockFile(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("pglocal: open lock file: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				_ = f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			_ = f.Close()
			return nil, fmt.Errorf("pglocal: lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("pglocal: wait for lock %s: %w", path, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// findBinaries returns initdb and pg_ctl from the same directory: from dirs when dirs is
// non-nil, else from PATH, else from the highest /usr/lib/postgresql/<N>/bin (Debian
// keeps the server binaries there, outside PATH).
func findBinaries(dirs []string) (initdb, pgCtl string) {
	if dirs == nil {
		dirs = BinDirs()
	}
	for _, dir := range dirs {
		i, p := filepath.Join(dir, "initdb"), filepath.Join(dir, "pg_ctl")
		if isExecutable(i) && isExecutable(p) {
			return i, p
		}
	}
	return "", ""
}

// debianBinDirs lists /usr/lib/postgresql/<N>/bin, highest N first.
func debianBinDirs() []string {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	return byVersionDesc(matches)
}

// byVersionDesc orders .../<N>/bin directories by N, highest first, dropping those
// whose N is not a number.
func byVersionDesc(dirs []string) []string {
	type versioned struct {
		dir string
		n   float64
	}
	var vs []versioned
	for _, d := range dirs {
		n, err := strconv.ParseFloat(filepath.Base(filepath.Dir(d)), 64)
		if err != nil {
			continue
		}
		vs = append(vs, versioned{d, n})
	}
	sort.SliceStable(vs, func(i, j int) bool { return vs[i].n > vs[j].n })
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.dir
	}
	return out
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// resolveUser picks the user that runs the cluster. initdb and postgres refuse to run
// as root, so as root they run as the postgres system user, or as a system user
// created for the purpose when there is none.
func (c *cluster) resolveUser(ctx context.Context) error {
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		u, err = user.Lookup(fallbackUser)
	}
	if err != nil {
		c.log.Info("postgres: creating system user for the private cluster", "user", fallbackUser)
		out, uerr := exec.CommandContext(ctx, "useradd", "--system", "--no-create-home", fallbackUser).CombinedOutput()
		if uerr != nil {
			return fmt.Errorf("pglocal: running as root needs a non-root user for postgres; useradd %s: %w: %s",
				fallbackUser, uerr, strings.TrimSpace(string(out)))
		}
		if u, err = user.Lookup(fallbackUser); err != nil {
			return fmt.Errorf("pglocal: look up %s: %w", fallbackUser, err)
		}
	}
	c.runUser = u.Username
	if c.uid, err = strconv.Atoi(u.Uid); err != nil {
		return fmt.Errorf("pglocal: uid of %s: %w", u.Username, err)
	}
	if c.gid, err = strconv.Atoi(u.Gid); err != nil {
		return fmt.Errorf("pglocal: gid of %s: %w", u.Username, err)
	}
	return nil
}

// command builds the command that runs name as the cluster's user: directly when not
// root, else through runuser, or su when runuser is missing.
func (c *cluster) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	var cmd *exec.Cmd
	switch {
	case c.runUser == "":
		cmd = exec.CommandContext(ctx, name, args...)
	case useRunuser():
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", c.runUser, "--", name}, args...)...)
	default:
		quoted := make([]string, 0, len(args)+1)
		for _, a := range append([]string{name}, args...) {
			quoted = append(quoted, shellQuote(a))
		}
		cmd = exec.CommandContext(ctx, "su", c.runUser, "-s", "/bin/sh", "-c", strings.Join(quoted, " "))
	}
	// The working directory may be unreadable for the cluster's user (e.g. under /root),
	// which initdb and pg_ctl dislike.
	cmd.Dir = "/"
	return cmd
}

// run runs name as the cluster's user and returns its trimmed combined output.
func (c *cluster) run(ctx context.Context, name string, args ...string) (string, error) {
	out, err := c.command(ctx, name, args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// useRunuser reports whether runuser is available; tests replace it to exercise su.
var useRunuser = func() bool {
	_, err := exec.LookPath("runuser")
	return err == nil
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// chown gives path to the cluster's user when running as root.
func (c *cluster) chown(path string, recursive bool) error {
	if c.runUser == "" {
		return nil
	}
	if !recursive {
		if err := os.Lchown(path, c.uid, c.gid); err != nil {
			return fmt.Errorf("pglocal: chown %s: %w", path, err)
		}
		return nil
	}
	err := filepath.WalkDir(path, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, c.uid, c.gid)
	})
	if err != nil {
		return fmt.Errorf("pglocal: chown %s: %w", path, err)
	}
	return nil
}

// ensureInitialized runs initdb when the data directory holds no cluster, and prepares
// the log file and socket directory so the cluster's user can write them.
func (c *cluster) ensureInitialized(ctx context.Context) error {
	if err := os.MkdirAll(c.sockDir, 0o755); err != nil {
		return fmt.Errorf("pglocal: create socket dir: %w", err)
	}
	if c.sockDir != os.TempDir() {
		if err := c.chown(c.sockDir, false); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(c.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("pglocal: create log file: %w", err)
	}
	_ = f.Close()
	if err := c.chown(c.logFile, false); err != nil {
		return err
	}

	if _, err := os.Stat(filepath.Join(c.dataDir, "PG_VERSION")); err == nil {
		// An existing cluster: make sure it belongs to the user that will run it.
		if fi, err := os.Stat(c.dataDir); err == nil && c.runUser != "" {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != c.uid {
				return c.chown(c.dataDir, true)
			}
		}
		return nil
	}

	if err := os.MkdirAll(c.dataDir, 0o700); err != nil {
		return fmt.Errorf("pglocal: create data dir: %w", err)
	}
	if err := os.Chmod(c.dataDir, 0o700); err != nil {
		return fmt.Errorf("pglocal: chmod data dir: %w", err)
	}
	if err := c.chown(c.dataDir, true); err != nil {
		return err
	}
	if c.runUser != "" {
		// Every directory above the data dir must be searchable by the cluster's user.
		if _, err := c.run(ctx, "test", "-w", c.dataDir); err != nil {
			return fmt.Errorf("pglocal: user %s cannot write %s (are its parent directories searchable by others?): %w",
				c.runUser, c.dataDir, err)
		}
	}
	c.log.Info("postgres: initializing private cluster", "data_dir", c.dataDir, "run_as", c.runUser)
	out, err := c.run(ctx, c.initdb, "-D", c.dataDir, "-U", "postgres", "--auth=trust",
		"-E", "UTF8", "--no-locale", "--no-sync")
	if err != nil {
		return fmt.Errorf("pglocal: initdb: %w: %s", err, out)
	}
	return nil
}

// running reports whether pg_ctl status sees a server on the data directory.
func (c *cluster) running(ctx context.Context) (bool, error) {
	out, err := c.run(ctx, c.pgCtl, "-D", c.dataDir, "status")
	if err == nil {
		return true, nil
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 3 {
		return false, nil
	}
	return false, fmt.Errorf("pglocal: pg_ctl status: %w: %s", err, out)
}

// pidFilePort reads the port from postmaster.pid (its fourth line) if the file exists.
func (c *cluster) pidFilePort() (int, bool) {
	f, err := os.Open(filepath.Join(c.dataDir, "postmaster.pid"))
	if err != nil {
		return 0, false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for line := 1; s.Scan(); line++ {
		if line == 4 {
			port, err := strconv.Atoi(strings.TrimSpace(s.Text()))
			return port, err == nil && port > 0
		}
	}
	return 0, false
}

// choosePort returns the port recorded for the cluster if it is still free, else a new
// free port, which it records.
func (c *cluster) choosePort() (int, error) {
	if b, err := os.ReadFile(c.portFile); err == nil {
		if port, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && port > 0 {
			if portFree(port) {
				return port, nil
			}
			c.log.Info("postgres: recorded port is taken, choosing another", "port", port)
		}
	}
	return c.newPort()
}

// newPort picks a free TCP port on 127.0.0.1 and records it in the port file.
func (c *cluster) newPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pglocal: pick a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	if err := os.WriteFile(c.portFile, []byte(strconv.Itoa(port)+"\n"), 0o644); err != nil {
		return 0, fmt.Errorf("pglocal: record port: %w", err)
	}
	return port, nil
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

// start starts the cluster on port and waits for pg_ctl to see it ready.
//
// fsync, synchronous_commit and full_page_writes are off: this cluster only ever holds
// development and test data, and a crash losing recent commits (or, with fsync off, even
// corrupting the cluster, which is then deleted and recreated) is an acceptable price
// for much faster tests.
func (c *cluster) start(ctx context.Context, port int) error {
	serverOpts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off "+
		"-c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
		port, shellQuote(c.sockDir))
	c.log.Info("postgres: starting private cluster", "data_dir", c.dataDir, "port", port)
	out, err := c.run(ctx, c.pgCtl, "-D", c.dataDir, "-l", c.logFile, "-o", serverOpts,
		"-w", "-t", strconv.Itoa(int(readyTimeout.Seconds())), "start")
	if err != nil {
		return fmt.Errorf("pglocal: pg_ctl start (log: %s): %w: %s", c.logFile, err, out)
	}
	return nil
}

// waitReady polls until the server on port accepts connections.
func (c *cluster) waitReady(ctx context.Context, port int) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		_, err := ping(ctx, c.url(port), localTimeout)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pglocal: private cluster on port %d not ready (log: %s): %w", port, c.logFile, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pglocal: wait for private cluster: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Runner runs PostgreSQL's programs as the user a private cluster runs as: this
// process, or, as root, the postgres system user (see resolveUser). Test helpers that
// start servers of their own (pgtest's streaming replica) use it.
type Runner struct{ c *cluster }

// NewRunner resolves the user the programs run as.
func NewRunner(ctx context.Context) (Runner, error) {
	c := &cluster{log: slog.New(slog.DiscardHandler)}
	if err := c.resolveUser(ctx); err != nil {
		return Runner{}, err
	}
	return Runner{c: c}, nil
}

// Command builds the command that runs name as the runner's user.
func (r Runner) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return r.c.command(ctx, name, args...)
}

// Chown gives path (not what is below it) to the runner's user when running as root.
func (r Runner) Chown(path string) error { return r.c.chown(path, false) }

// BinDirs lists the directories that may hold PostgreSQL's programs, most preferred
// first: that of initdb on PATH, then /usr/lib/postgresql/<N>/bin, highest N first.
func BinDirs() []string {
	var dirs []string
	if p, err := exec.LookPath("initdb"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	return append(dirs, debianBinDirs()...)
}
