-- 13: staff accounts in the store, not the config (issue 10): role, team, password hash
-- (argon2id; an old PBKDF2 one until its next sign-in), disabled. ``credential`` is raised
-- by a password reset and a disable, so every session signed in before it ends; every
-- change is an event naming who made it.

CREATE TABLE staff (
    username TEXT PRIMARY KEY COLLATE NOCASE,  -- 'li': 'Li' signs in as the same person
    name TEXT NOT NULL,                     -- as shown to people: 'Li Wei', '李伟'
    role TEXT NOT NULL CHECK (role IN ('admin', 'committee', 'property', 'gate')),
    team TEXT,                              -- a [[teams]] id for committee and property
    password_hash TEXT NOT NULL,
    credential INTEGER NOT NULL DEFAULT 1,
    disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CHECK (team IS NULL OR role IN ('committee', 'property'))
);
CREATE INDEX sessions_live ON sessions(username) WHERE ended_at IS NULL;
