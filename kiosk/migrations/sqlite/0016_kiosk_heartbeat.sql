-- 16 (issue 12): the running kiosk's heartbeat, one row rewritten every few seconds (healthz).

CREATE TABLE kiosk_heartbeat (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    beat_at TEXT NOT NULL,                  -- when the kiosk loop last wrote this row
    last_frame_at TEXT                      -- when it last read a frame from the camera
);
-- GET /healthz asks for the newest backup without walking the whole history
CREATE INDEX events_backup_made ON events(id) WHERE kind = 'backup_made';
