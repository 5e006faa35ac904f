-- 4: staff sign-in sessions that end on the server (sign-out, a removed user), the
-- lockouts shown to admins, and old attempts pruned by time

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,                    -- SHA-256 of the cookie's token, never the token
    username TEXT NOT NULL,
    credential TEXT NOT NULL,               -- fingerprint of the password hash at sign-in
    created_at TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    ended_at TEXT
);
CREATE TABLE lockouts (                     -- sign-ins refused for a while, for admins
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    until TEXT NOT NULL,
    username TEXT,                          -- as typed (bounded); NULL = every username
    client TEXT NOT NULL                    -- the client's address
);
CREATE INDEX lockouts_at ON lockouts(at);
CREATE INDEX attempts_at ON attempts(at);
