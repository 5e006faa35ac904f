-- 19 (issue 11): when the team holding a door task was first told of it (fresh food, a
-- handover, or the notice worker's list of new tasks), so that a task is listed as new once.
-- Tasks of before count as told: an upgrade must not send the teams a list of old ones.

ALTER TABLE door_tasks ADD COLUMN told_at TEXT;
UPDATE door_tasks SET told_at = created_at;
CREATE INDEX door_tasks_untold ON door_tasks(id) WHERE status = 'open' AND told_at IS NULL;
