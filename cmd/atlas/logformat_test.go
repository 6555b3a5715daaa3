package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/modules/monolith/monotest"
)

// textLine is a human-readable log line: the wall-clock time, the level, the message,
// then key=value pairs.
var textLine = regexp.MustCompile(`^time=\d{2}:\d{2}:\d{2}\.\d{3} level=INFO msg=serving addr=127\.0\.0\.1:8080$`)

// logLine parses the common flags of command name from args, logs one line through
// newLogger and returns it.
func logLine(t *testing.T, env map[string]string, name string, args ...string) string {
	t.Helper()
	var common commonFlags
	fs := newFlagSet(&cli{getenv: func(k string) string { return env[k] }}, name, &common)
	require.NoError(t, parseFlags(fs, args))
	var out monotest.Buffer
	log, err := newLogger(&out, common)
	require.NoError(t, err)
	log.Info("serving", "addr", "127.0.0.1:8080")
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	require.Len(t, lines, 1, out.String())
	return lines[0]
}

// requireJSONLine requires line to be a JSON log record of the "serving" line.
func requireJSONLine(t *testing.T, line string) {
	t.Helper()
	var rec map[string]any
	require.NoError(t, json.Unmarshal([]byte(line), &rec), line)
	require.Equal(t, "INFO", rec["level"])
	require.Equal(t, "serving", rec["msg"])
	require.Equal(t, "127.0.0.1:8080", rec["addr"])
}

// TestLogFormat: dev logs text lines by default and JSON with --log-format json; serve
// (and every other command) logs JSON by default and text with --log-format text;
// ATLAS_LOG_FORMAT sets the default; an unknown format is a usage error.
func TestLogFormat(t *testing.T) {
	t.Parallel()
	require.Regexp(t, textLine, logLine(t, nil, "dev"))
	requireJSONLine(t, logLine(t, nil, "dev", "--log-format", "json"))
	requireJSONLine(t, logLine(t, nil, "serve"))
	requireJSONLine(t, logLine(t, nil, "worker"))
	require.Regexp(t, textLine, logLine(t, nil, "serve", "--log-format", "text"))
	require.Regexp(t, textLine, logLine(t, map[string]string{"ATLAS_LOG_FORMAT": "text"}, "serve"))
	requireJSONLine(t, logLine(t, map[string]string{"ATLAS_LOG_FORMAT": "json"}, "dev"))

	code, _, stderr := atlas(t.Context(), nil, "migrate", "--log-format", "xml")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, `invalid log format "xml" (text, json)`)
}
