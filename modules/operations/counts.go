package operations

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
)

// SummaryKeys is the closed set of summary-count keys, in display order; treat it as
// read-only (validation uses its own copy).
var SummaryKeys = []string{
	"total", "processed", "succeeded", "failed", "skipped",
	"created", "updated", "deleted", "items", "tenants",
}

// summaryKeySet is the validation copy of SummaryKeys.
var summaryKeySet = func() map[string]bool {
	m := make(map[string]bool, len(SummaryKeys))
	for _, k := range SummaryKeys {
		m[k] = true
	}
	return m
}()

// allowedKeysText lists the allowed keys for error messages.
var allowedKeysText = strings.Join(SummaryKeys, ", ")

// ErrUnknownCountKey is wrapped by ValidateCounts for a key outside SummaryKeys.
var ErrUnknownCountKey = errors.New("operations: unknown summary count key")

// ErrNegativeCount is wrapped by ValidateCounts for a negative count.
var ErrNegativeCount = errors.New("operations: negative summary count")

// IsSummaryKey reports whether key is one of SummaryKeys.
func IsSummaryKey(key string) bool { return summaryKeySet[key] }

// ValidateCounts rejects keys outside SummaryKeys (ErrUnknownCountKey, naming the key
// and the allowed keys) and negative values (ErrNegativeCount); several problems are
// joined, in key order. Nil or empty counts are valid.
func ValidateCounts(c Counts) error {
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(c)) {
		switch {
		case !summaryKeySet[k]:
			errs = append(errs, fmt.Errorf("%w %q (allowed: %s)", ErrUnknownCountKey, k, allowedKeysText))
		case c[k] < 0:
			errs = append(errs, fmt.Errorf("%w: %q is %d", ErrNegativeCount, k, c[k]))
		}
	}
	return errors.Join(errs...)
}

// Add returns a new map holding c plus delta per key (saturating at the int64 limits);
// neither operand is modified, and either may be nil.
func (c Counts) Add(delta Counts) Counts {
	out := make(Counts, len(c)+len(delta))
	for k, v := range c {
		out[k] = v
	}
	for k, v := range delta {
		out[k] = addSaturating(out[k], v)
	}
	return out
}

// addSaturating adds two int64s, clamping instead of wrapping on overflow.
func addSaturating(a, b int64) int64 {
	switch {
	case b > 0 && a > math.MaxInt64-b:
		return math.MaxInt64
	case b < 0 && a < math.MinInt64-b:
		return math.MinInt64
	}
	return a + b
}
