-- tn_require fails the statement (and so its transaction) unless allowed is true, with
-- SQLSTATE TA403, which nothing else raises. The start gate checks a start's
-- authorization inside the start's own transaction with it (authorize.sql,
-- RequireTenantRole and RequireWorkspaceRole), so a start takes one round trip instead of
-- an authorization query and then its transaction.
CREATE FUNCTION tn_require(allowed boolean) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	IF allowed IS NOT TRUE THEN
		RAISE EXCEPTION 'not allowed' USING ERRCODE = 'TA403';
	END IF;
END
$$;
