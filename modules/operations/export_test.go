package operations

// GroupStats reports how many starts s decided in group transactions and how many of
// its group transactions failed (tests).
func GroupStats(s *Service) (grouped, failed int64) {
	return s.group.grouped.Load(), s.group.failed.Load()
}

// OutboxDispatcher is the default dispatcher (tests that wrap it).
func OutboxDispatcher() Dispatcher { return outboxDispatcher{} }
