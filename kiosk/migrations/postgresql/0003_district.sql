-- 3 (issue 22): the district. One centre holds every compound of a sub-district (街道); its
-- own accounts belong to no compound:
--   district_admin reads every compound and manages the district's accounts;
--   district_staff reads every compound's pages and counts, and acts nowhere
--   unless assigned (a reinforcement cadre sent to a compound short of hands).
-- An assignment gives a district account a compound role (gate, committee or property, with
-- its team) in ONE compound for a period [starts_at, ends_at): it ends by itself, and it is
-- never valid in another compound. A compound's own usernames and the district's never
-- share a name (kiosk.centre.district checks both ways), so a sign-in means one account.

CREATE TABLE district_staff (
    username TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('district_admin', 'district_staff')),
    password_hash TEXT NOT NULL,
    credential BIGINT NOT NULL DEFAULT 1,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX district_staff_username ON district_staff(lower(username));

CREATE TABLE assignments (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username TEXT NOT NULL REFERENCES district_staff(username),
    community_id TEXT NOT NULL REFERENCES communities(id),
    role TEXT NOT NULL CHECK (role IN ('committee', 'property', 'gate')),
    team TEXT,
    starts_at TIMESTAMPTZ NOT NULL,
    ends_at TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    created_by TEXT NOT NULL,
    CHECK (ends_at > starts_at),
    CHECK (team IS NULL OR role IN ('committee', 'property'))
);
-- "Is this account assigned here now?" at every request of a signed-in reinforcement.
CREATE INDEX assignments_live ON assignments(community_id, lower(username), ends_at);

-- The district's counts and dashboard read one day's events of every compound: by time
-- first (the compound index events_at serves one compound's day).
CREATE INDEX events_day ON events(at, kind);
