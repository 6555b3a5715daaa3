package failure

import "testing"

func TestFieldListSortsNames(t *testing.T) {
	got := FieldList(map[string]string{"url": "must be https", "events": "pick one", "name": "too long"})
	if want := "events: pick one; name: too long; url: must be https"; got != want {
		t.Fatalf("FieldList = %q, want %q", got, want)
	}
	if got := FieldList(nil); got != "" {
		t.Fatalf("FieldList(nil) = %q, want empty", got)
	}
}
