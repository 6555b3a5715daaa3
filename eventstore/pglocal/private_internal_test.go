package pglocal

import (
	"io"
	"log/slog"
	"os"
	"slices"
	"testing"
)

func TestRunAsClusterUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("commands only switch users when running as root")
	}
	c := &cluster{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := c.resolveUser(t.Context()); err != nil {
		t.Fatal(err)
	}
	saved := useRunuser
	t.Cleanup(func() { useRunuser = saved })
	for _, viaRunuser := range []bool{true, false} {
		useRunuser = func() bool { return viaRunuser }
		out, err := c.run(t.Context(), "sh", "-c", `id -un; printf '%s\n' "$1"`, "sh", "it's quoted")
		if err != nil {
			t.Fatalf("runuser=%v: %v: %s", viaRunuser, err, out)
		}
		if want := c.runUser + "\nit's quoted"; out != want {
			t.Errorf("runuser=%v: output %q, want %q", viaRunuser, out, want)
		}
	}
}

func TestByVersionDesc(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"empty", nil, []string{}},
		{"numeric not lexical", []string{
			"/usr/lib/postgresql/9.6/bin",
			"/usr/lib/postgresql/16/bin",
			"/usr/lib/postgresql/15/bin",
		}, []string{
			"/usr/lib/postgresql/16/bin",
			"/usr/lib/postgresql/15/bin",
			"/usr/lib/postgresql/9.6/bin",
		}},
		{"non-numeric dropped", []string{
			"/usr/lib/postgresql/devel/bin",
			"/usr/lib/postgresql/17/bin",
		}, []string{"/usr/lib/postgresql/17/bin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := byVersionDesc(tt.in); !slices.Equal(got, tt.want) {
				t.Fatalf("byVersionDesc(%v) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}
