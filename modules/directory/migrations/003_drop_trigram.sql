-- Substring search scans one tenant's rows in name order through the (tenant_id,
-- lower(display_name)) index instead of a trigram index over every tenant: a picker
-- query over 10,000 groups stays in milliseconds, and a sync no longer pays the GIN
-- index maintenance that made a first sync of 10,000 groups 2× slower.
DROP INDEX dir_groups_name_trgm;
DROP INDEX dir_role_definitions_name_trgm;
