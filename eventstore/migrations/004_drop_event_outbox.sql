-- The per-append outbox topic "atlas_events" had no consumer: every reader of the log
-- (projections, replay, the hub) follows it by global position, and the notifications
-- inbox, its last subscriber, became a projection. An append no longer writes a
-- message there, and the tables go. Outbox topics with consumers (ops_dispatch) stay and
-- are kept small by the outbox sweeper (eventstore.SweepOutbox).
DROP TABLE IF EXISTS "watermill_atlas_events";
DROP TABLE IF EXISTS "watermill_offsets_atlas_events";
