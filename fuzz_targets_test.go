package architecture_test

import (
	"bufio"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// fuzzFunc is the declaration of a fuzz target.
var fuzzFunc = regexp.MustCompile(`(?m)^func (Fuzz\w*)\(\w+ \*testing\.F\)`)

// TestFuzzTargetsListed: .ci/fuzz-targets, the list `go tool task fuzz` and `fuzz:ci`
// loop over, names every Fuzz function of the tree and nothing else, and every target
// has a committed seed corpus (testdata/fuzz/<target>/, run by go test as plain tests).
func TestFuzzTargetsListed(t *testing.T) {
	t.Parallel()
	var found []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range fuzzFunc.FindAllSubmatch(src, -1) {
			found = append(found, "./"+filepath.ToSlash(filepath.Dir(path))+" "+string(m[1]))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(".ci/fuzz-targets")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var listed []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			t.Errorf(".ci/fuzz-targets: %q is not \"<package dir> <target>\"", line)
			continue
		}
		listed = append(listed, fields[0]+" "+fields[1])
		corpus, err := os.ReadDir(filepath.Join(fields[0], "testdata", "fuzz", fields[1]))
		if err != nil || len(corpus) == 0 {
			t.Errorf("%s has no committed seed corpus in %s/testdata/fuzz/%s/", fields[1], fields[0], fields[1])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, target := range found {
		if !slices.Contains(listed, target) {
			t.Errorf("fuzz target %s is not in .ci/fuzz-targets: add it, so `go tool task fuzz` and CI run it", target)
		}
	}
	for _, target := range listed {
		if !slices.Contains(found, target) {
			t.Errorf(".ci/fuzz-targets names %s, which is no fuzz target of the tree", target)
		}
	}
	if len(found) == 0 {
		t.Fatal("found no fuzz target at all")
	}
}
