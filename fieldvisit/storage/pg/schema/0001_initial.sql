-- The first schema of the PostgreSQL engine (see docs/decisions/0015-postgresql.md).
-- Documents are the models' to_doc() as JSONB; the columns beside them are what is
-- looked up, locked or kept unique.

-- The registry: one row per document of each registry table (villages, households, users,
-- tokens, settings, members, ...), whatever tables the Registry has. ``registry_version``
-- is bumped by every registry change, in its transaction: a process keeps the registry in
-- memory and reads it again only when the version moved.
CREATE TABLE registry (
    tbl text NOT NULL,
    key text NOT NULL,
    doc jsonb NOT NULL,
    PRIMARY KEY (tbl, key)
);
CREATE TABLE registry_version (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    version bigint NOT NULL
);
INSERT INTO registry_version (version) VALUES (0);

-- Every change to visits and needs takes the next number: (count, max(seq)) of a month and
-- village is what a process compares to know its cached reading is current.
CREATE SEQUENCE change_seq;

-- A visit id is the primary key: a visit is stored once whatever its date (exactly once is
-- the key's guarantee, not a check).
CREATE TABLE visits (
    id text PRIMARY KEY,
    month text NOT NULL,
    village text NOT NULL,
    household text NOT NULL,
    seq bigint NOT NULL DEFAULT nextval('change_seq'),
    doc jsonb NOT NULL
);
CREATE INDEX visits_month_village ON visits (month, village, seq);
CREATE INDEX visits_household ON visits (household, month);

CREATE TABLE needs (
    id text PRIMARY KEY,
    visit text NOT NULL,
    month text NOT NULL,
    village text NOT NULL,
    household text NOT NULL,
    status text NOT NULL,
    seq bigint NOT NULL DEFAULT nextval('change_seq'),
    doc jsonb NOT NULL
);
CREATE INDEX needs_month_village ON needs (month, village, seq);
CREATE INDEX needs_visit ON needs (visit);
CREATE INDEX needs_household ON needs (household);

-- The audit log: appended in the transaction of the change it records. ``seq`` orders
-- entries; ``xid`` lets a reader that has seen up to some seq find the rows committed since
-- by transactions that took a smaller seq (those were in flight at its last read).
CREATE TABLE audit (
    seq bigserial PRIMARY KEY,
    id text NOT NULL UNIQUE,
    month text NOT NULL,
    xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    doc jsonb NOT NULL
);
CREATE INDEX audit_month ON audit (month, seq);
CREATE INDEX audit_xid ON audit (xid);

-- Photos, closed months' files and finished report files, when kept in the database
-- (the default; FIELDVISIT_SHARED_DIR keeps them in a folder every server mounts instead).
CREATE TABLE files (
    kind text NOT NULL,          -- photo | closed | report
    month text NOT NULL,         -- the visit's or closed month; '' for reports
    name text NOT NULL,          -- <visit id>/<photo id>[.thumb].jpg, <sha256>.json|pdf, <job>.pdf
    created double precision NOT NULL DEFAULT extract(epoch FROM now()),
    data bytea NOT NULL,
    PRIMARY KEY (kind, month, name)
);

-- Browser logins (the digest of the cookie's session id).
CREATE TABLE sessions (
    digest text PRIMARY KEY,
    phone text NOT NULL,
    doc jsonb NOT NULL
);
CREATE INDEX sessions_phone ON sessions (phone);

-- Values made once (the generated secret key).
CREATE TABLE secrets (
    name text PRIMARY KEY,
    value text NOT NULL
);

-- Background downloads: any server shows a job's progress and serves its file; a worker
-- claims queued jobs with FOR UPDATE SKIP LOCKED.
CREATE TABLE jobs (
    id text PRIMARY KEY,
    owner text NOT NULL,
    key text NOT NULL,
    doc jsonb NOT NULL,           -- title (both languages), filename, mimetype, what to make
    status text NOT NULL DEFAULT 'queued',
    done integer NOT NULL DEFAULT 0,
    total integer NOT NULL DEFAULT 0,
    created double precision NOT NULL,
    finished double precision,
    heartbeat double precision,
    worker text NOT NULL DEFAULT '',
    error text NOT NULL DEFAULT ''
);
CREATE INDEX jobs_owner ON jobs (owner, created);
CREATE INDEX jobs_queued ON jobs (status, created);

-- Rate limits (failed logins, guessed tokens) counted for every server at once.
CREATE TABLE rate_limits (
    key text PRIMARY KEY,
    count integer NOT NULL,
    expires double precision NOT NULL
);
