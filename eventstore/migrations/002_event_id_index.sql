-- Event ids are UUIDv7 made by the store (Append never takes one from the caller), so
-- they are unique by construction; a unique index would check that on every append
-- for nothing. The stream key (stream_id, stream_version) stays unique.
ALTER TABLE es_events DROP CONSTRAINT es_events_event_id_key;
