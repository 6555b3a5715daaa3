-- A sync writes only the rows it creates or whose content changed (content hash), so a
-- row's run and time say which sync last wrote it, not which last saw it: after a
-- complete sync every cached row was seen by that sync (dir_sync_state), the others
-- having been deleted.
ALTER TABLE dir_groups RENAME COLUMN run_id TO changed_run_id;
ALTER TABLE dir_groups RENAME COLUMN last_synced_at TO changed_at;
ALTER TABLE dir_role_definitions RENAME COLUMN run_id TO changed_run_id;
ALTER TABLE dir_role_definitions RENAME COLUMN last_synced_at TO changed_at;
