-- 12: whether the camera is lost right now (the gate screen asks at every poll): the newest
-- camera event, found without walking the history

CREATE INDEX events_camera ON events(id) WHERE kind IN ('camera_lost', 'camera_back');
