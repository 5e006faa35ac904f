-- 20 (issue 18): the staff's list of announcements (/expected) reads the open ones and those met
-- lately through these, at the same cost at any length of history.

CREATE INDEX expected_open ON expected(announced_at) WHERE used_at IS NULL;
CREATE INDEX expected_met ON expected(used_at) WHERE used_at IS NOT NULL;
