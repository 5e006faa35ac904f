-- 26 (issue 23): the camera as the kiosk sees it, for an installer aiming it from the staff
-- site's "camera view" (web/camera.py). The page asks (``wanted_until``, a few seconds ahead,
-- renewed while it is open); the kiosk then writes its newest frame, small, about once a
-- second with what hardware.aiming saw in it (``sight``: codes' outlines and pixels per
-- module, the frame's white and glare; never a code's text). One row, rewritten; nothing of
-- it is journaled to a centre.

CREATE TABLE camera_view (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    wanted_until TEXT,  -- UTC ISO: publish until then (NULL: nobody is looking)
    seen_at TEXT,       -- UTC ISO of the frame below
    jpeg BLOB,
    sight TEXT          -- JSON (hardware.aiming.Sight.as_json)
);
INSERT INTO camera_view (id) VALUES (1);
