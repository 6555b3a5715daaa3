package eventstore

import "errors"

// ErrConcurrency is matched by errors.Is for every *ConcurrencyError.
var ErrConcurrency = errors.New("eventstore: concurrency conflict")

// ErrUnknownEventType is returned when an event type is not registered.
var ErrUnknownEventType = errors.New("eventstore: unknown event type")

// ErrNoEvents is returned by Append when called without events.
var ErrNoEvents = errors.New("eventstore: no events to append")
