package operations

import "fmt"

// Which run types can run. A type is runnable when this process registered its handler
// (Handle) or declared that the deployment's worker processes run it (DeclareRunnable).
// `atlas serve` and `atlas worker` register every handler they have; a process that
// starts runs but works none (a CLI command, a test's gate) declares the types the
// workers handle, which monolith.New does from one list (monolith.WorkerTypes). The
// gate refuses a type that is not runnable (ErrTypeUnavailable) and the hub offers only
// runnable types: a run that no worker would ever pick up is never accepted.

// DeclareRunnable records that the deployment's worker processes run runType although
// this process registers no handler for it. Unknown types panic. Call it while wiring,
// before the service starts runs.
func (s *Service) DeclareRunnable(runType string) {
	if _, ok := LookupType(runType); !ok {
		panic("operations: DeclareRunnable: unknown run type " + runType)
	}
	s.declared[runType] = true
}

// Runnable reports whether a run of runType would be worked: it has a handler in this
// process or was declared runnable.
func (s *Service) Runnable(runType string) bool {
	_, handled := s.handlers[runType]
	return handled || s.declared[runType]
}

// RunnableTypes returns the runnable catalog entries, sorted by type name.
func (s *Service) RunnableTypes() []TypeInfo {
	var out []TypeInfo
	for _, t := range Types() {
		if s.Runnable(t.Type) {
			out = append(out, t)
		}
	}
	return out
}

// CheckStart reports whether runType may be started from surface: ErrUnknownType,
// ErrTypeUnavailable (no worker runs it: checked first, it is true of every surface) or
// ErrSurfaceNotAllowed (the type has its own page or the scheduler). The generic
// surfaces (the hub's start form, the JSON API) ask it before the gate; the gate itself
// refuses a type that is not runnable, whatever the surface.
func (s *Service) CheckStart(runType string, surface Surface) error {
	info, ok := LookupType(runType)
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownType, runType)
	}
	if !s.Runnable(runType) {
		return fmt.Errorf("%w: %s", ErrTypeUnavailable, runType)
	}
	if !info.StartsFrom(surface) {
		return fmt.Errorf("%w: %s", ErrSurfaceNotAllowed, runType)
	}
	return nil
}
