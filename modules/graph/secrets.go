package graph

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// SecretEnvPrefix starts the name of every environment variable an "env:" secret
// reference may name: a reference can never read DATABASE_URL, ATLAS_SESSION_KEY or any
// other variable of the process.
const SecretEnvPrefix = "ATLAS_GRAPH_SECRET_"

// DemoSecretEnv is the one variable outside SecretEnvPrefix an "env:" reference may
// name: the demo connections' client secret.
const DemoSecretEnv = "ATLAS_DEMO_CLIENT_SECRET"

// SecretsDirEnv names the environment variable holding the one directory "file:"
// secret references are read from; unset, every "file:" reference is refused.
const SecretsDirEnv = "ATLAS_SECRETS_DIR"

// MaxSecretSize caps a secret file: a larger one is refused without being read.
const MaxSecretSize = 64 << 10

// ErrSecretRef means a secret reference is malformed, not allowed, or cannot be
// resolved. Its messages name the rule broken, never the secret.
var ErrSecretRef = errors.New("secret reference refused")

// ErrEndpoint means a Graph or token endpoint is not allowed: it must be https, or
// plain http to a loopback address.
var ErrEndpoint = errors.New("endpoint refused")

// secretRefError is an ErrSecretRef with its reason.
func secretRefError(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrSecretRef)
}

// parseSecretRef splits a reference into its kind ("env" or "file") and name, checking
// the rules that need no environment and no file system.
func parseSecretRef(ref string) (kind, name string, err error) {
	kind, name, ok := strings.Cut(ref, ":")
	if !ok || (kind != "env" && kind != "file") {
		return "", "", secretRefError("a secret reference is env:NAME or file:NAME")
	}
	if name == "" {
		return "", "", secretRefError("the secret reference %s: names nothing", kind)
	}
	if kind == "env" {
		if !validEnvName(name) {
			return "", "", secretRefError("env: secret references must name a variable starting with %s (or %s)", SecretEnvPrefix, DemoSecretEnv)
		}
		return kind, name, nil
	}
	if strings.ContainsAny(name, "\\\x00") || filepath.IsAbs(name) || !filepath.IsLocal(name) || hasDotDot(name) {
		return "", "", secretRefError("file: secret references name a file relative to %s, without .. or a leading /", SecretsDirEnv)
	}
	return kind, name, nil
}

// validEnvName reports whether name is DemoSecretEnv or SecretEnvPrefix followed by
// upper-case letters, digits and underscores.
func validEnvName(name string) bool {
	if name == DemoSecretEnv {
		return true
	}
	rest, ok := strings.CutPrefix(name, SecretEnvPrefix)
	if !ok || rest == "" {
		return false
	}
	for _, r := range rest {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '_' {
			return false
		}
	}
	return true
}

// hasDotDot reports whether any element of the slash-separated path p is "..".
func hasDotDot(p string) bool {
	for el := range strings.SplitSeq(p, "/") {
		if el == ".." {
			return true
		}
	}
	return false
}

// CheckSecretRef checks a secret reference without resolving it: "env:NAME" where NAME
// is DemoSecretEnv or starts with SecretEnvPrefix, or "file:NAME" where NAME is a path
// relative to the secrets directory without "..". Errors wrap ErrSecretRef.
func CheckSecretRef(ref string) error {
	_, _, err := parseSecretRef(ref)
	return err
}

// ResolveSecret returns the secret ref names: an allowed environment variable read with
// getenv, or a regular file of at most MaxSecretSize bytes inside dir whose real path
// (symlinks evaluated) is still inside dir; dir "" refuses every file reference. The
// value is trimmed of surrounding white space and must not be empty. Errors wrap
// ErrSecretRef and never hold the value.
func ResolveSecret(ref, dir string, getenv func(string) string) (string, error) {
	kind, name, err := parseSecretRef(ref)
	if err != nil {
		return "", err
	}
	var v string
	if kind == "env" {
		if getenv == nil {
			getenv = os.Getenv
		}
		v = getenv(name)
	} else if v, err = readSecretFile(dir, name); err != nil {
		return "", err
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return "", secretRefError("the secret reference names an empty or unset secret")
	}
	return v, nil
}

// readSecretFile reads name inside dir under the rules of ResolveSecret.
func readSecretFile(dir, name string) (string, error) {
	if dir == "" {
		return "", secretRefError("file: secret references are refused: %s is not set", SecretsDirEnv)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", secretRefError("the secrets directory cannot be resolved")
	}
	root, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", secretRefError("the secrets directory %s cannot be resolved", SecretsDirEnv)
	}
	real, err := filepath.EvalSymlinks(filepath.Join(root, filepath.FromSlash(name)))
	if err != nil {
		return "", secretRefError("the secret file does not exist or cannot be read")
	}
	rel, err := filepath.Rel(root, real)
	if err != nil || !filepath.IsLocal(rel) {
		return "", secretRefError("the secret file resolves (through a symlink) outside %s", SecretsDirEnv)
	}
	// os.Root refuses any escape a symlink swapped in since the check would make.
	r, err := os.OpenRoot(root)
	if err != nil {
		return "", secretRefError("the secrets directory cannot be opened")
	}
	defer r.Close()
	fi, err := r.Stat(rel)
	if err != nil {
		return "", secretRefError("the secret file does not exist or cannot be read")
	}
	if !fi.Mode().IsRegular() {
		return "", secretRefError("the secret file is not a regular file")
	}
	if fi.Size() > MaxSecretSize {
		return "", secretRefError("the secret file is larger than %d KiB", MaxSecretSize>>10)
	}
	f, err := r.Open(rel)
	if err != nil {
		return "", secretRefError("the secret file cannot be opened")
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxSecretSize+1))
	if err != nil {
		return "", secretRefError("the secret file cannot be read")
	}
	if len(b) > MaxSecretSize {
		return "", secretRefError("the secret file is larger than %d KiB", MaxSecretSize>>10)
	}
	return string(b), nil
}

// IsLoopbackHost reports whether host (a host name or IP, without port) is
// "localhost" or an address in 127.0.0.0/8 or ::1.
func IsLoopbackHost(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// CheckEndpoint checks a Graph base URL or token endpoint: "" (the public cloud) or an
// absolute https URL, or plain http only to a loopback host. Errors wrap ErrEndpoint.
func CheckEndpoint(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("the endpoint is not an absolute URL: %w", ErrEndpoint)
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return nil
	case "http":
		if IsLoopbackHost(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("the endpoint must use https (plain http only to a loopback address): %w", ErrEndpoint)
	default:
		return fmt.Errorf("the endpoint must be an https URL: %w", ErrEndpoint)
	}
}
