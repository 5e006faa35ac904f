-- 18 (issue 11): a notice goes down a chain of contacts, in order of preference (channel and
-- recipient hold the one being tried; an older row's chain is that one contact), and a
-- worker claims a row with a lease before it sends, so that several workers can run

ALTER TABLE outbox ADD COLUMN contacts TEXT NOT NULL DEFAULT '[]';  -- [[channel, to], ...]
ALTER TABLE outbox ADD COLUMN contact_index INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN contact_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE outbox ADD COLUMN lease_until TEXT;
