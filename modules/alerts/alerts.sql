-- Static statements of modules/alerts (taken by name in the Go files).

-- name: InsertRule
INSERT INTO al_rules (id, workspace_id, events, url, types, tenants, secret, created_by, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9);

-- name: RulesOf
-- Never the secret.
SELECT id, workspace_id, events, url, types, tenants, created_at
FROM al_rules WHERE workspace_id = ANY($1) ORDER BY created_at DESC, id DESC;

-- name: AllRules
SELECT id, workspace_id, events, url, types, tenants, created_at FROM al_rules;

-- name: FollowerPosition
SELECT position FROM al_follower WHERE name = 'deliveries';

-- name: FollowerAdvance
-- A compare-and-set: another process that moved it first wins, this batch is dropped.
UPDATE al_follower SET position = $2 WHERE name = 'deliveries' AND position = $1;

-- name: InsertDeliveries
INSERT INTO al_deliveries (id, rule_id, run_id, workspace_id, event, body, next_attempt_at, created_at)
SELECT d.id, d.rule_id, d.run_id, d.workspace_id, d.event, d.body, d.at, d.at
FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::timestamptz[])
    AS d (id, rule_id, run_id, workspace_id, event, body, at)
ON CONFLICT (rule_id, run_id) DO NOTHING;

-- name: ClaimDue
-- Claims due deliveries by pushing their next attempt past a lease, in a short
-- transaction of its own: the POST happens outside any transaction, and a process that
-- dies mid-POST leaves the delivery to be retried when the lease ends.
UPDATE al_deliveries d SET next_attempt_at = $2
FROM al_rules r
WHERE d.id IN (SELECT id FROM al_deliveries WHERE status = 'pending' AND next_attempt_at <= $1
               ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)
  AND r.id = d.rule_id
RETURNING d.id, d.run_id, d.event, d.body, d.attempts, d.created_at, r.url, r.secret;

-- name: InsertAttempt
INSERT INTO al_attempts (delivery_id, attempt, at, status_code, error_class) VALUES ($1, $2, $3, $4, $5);

-- name: FinishAttempt
-- The attempt's outcome; attempts must still be what the claim read (a lease that ran
-- out and was claimed again by another process leaves this one's answer unrecorded).
UPDATE al_deliveries SET attempts = $2 + 1, status = $3, next_attempt_at = $4, finished_at = $5
WHERE id = $1 AND attempts = $2;

-- name: DeliveriesOf
SELECT id, rule_id, run_id, event, status, attempts, next_attempt_at, created_at, finished_at
FROM al_deliveries WHERE workspace_id = ANY($1) ORDER BY created_at DESC, id DESC LIMIT $2;

-- name: AttemptsOf
SELECT delivery_id, attempt, at, status_code, error_class
FROM al_attempts WHERE delivery_id = ANY($1) ORDER BY delivery_id, attempt;
