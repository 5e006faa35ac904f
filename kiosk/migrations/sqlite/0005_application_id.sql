-- 5: mark the file as a shelf database, so that an empty, foreign or mistyped file is
-- refused at start instead of being taken for a new, empty community

PRAGMA application_id = 1397247046;  -- 0x53484C46, "SHLF": kiosk.store APPLICATION_ID
