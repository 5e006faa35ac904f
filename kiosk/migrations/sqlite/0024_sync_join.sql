-- 24 (issue 21): a gate joins its centre a chunk of rows at a time (kiosk.store.journal.join),
-- so that the kiosk's check-ins never wait for a long history to be journaled in one
-- transaction; where the snapshot has got to is kept here, and a join cut short (a kill, a
-- power cut) goes on where it stopped. Self-contained: renumber freely on a merge.

ALTER TABLE sync_state ADD COLUMN joining TEXT;  -- while joining: {"kind": [done up to, last]}
