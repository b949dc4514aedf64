-- An STS session may carry a session policy (JSON text validated by cairn-iam): the
-- session's permissions are what both its role's policies and this policy allow. NULL: none.
ALTER TABLE sts_sessions ADD COLUMN session_policy TEXT;
