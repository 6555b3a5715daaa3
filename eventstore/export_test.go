package eventstore

// HoldSealTurn takes this process's seal turn as a running Seal would, until release
// is called (tests).
func HoldSealTurn(s *Store) (release func()) {
	s.sealTurn <- struct{}{}
	return func() { <-s.sealTurn }
}

// SealCounts reports how many seals s started and how many callers are in Seal (tests).
func SealCounts(s *Store) (started uint64, callers int) {
	s.sealMu.Lock()
	defer s.sealMu.Unlock()
	return s.sealsStarted, s.sealCallers
}
