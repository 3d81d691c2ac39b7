-- The approval engine's state. Graph is the authority on requests; these
-- tables hold what stagegate has done about them.

-- Requests submitted through the bot (alias and ticket as typed), and every
-- request the engine has reconciled.
CREATE TABLE engine_requests (
    id            TEXT PRIMARY KEY,            -- accessPackageAssignmentRequest id
    requester     TEXT NOT NULL,               -- Entra object id
    alias         TEXT,
    ticket        TEXT,
    justification TEXT,
    state         TEXT NOT NULL,               -- last seen accessPackageRequestState
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

-- People and where to reach them: one row per chat identity. Teams rows
-- come from the platform's aadObjectId; Slack rows only from a completed
-- account link (never from an email match).
CREATE TABLE people (
    platform      TEXT NOT NULL,
    workspace     TEXT NOT NULL,
    chat_user     TEXT NOT NULL,
    object_id     TEXT NOT NULL,
    display_name  TEXT NOT NULL DEFAULT '',
    conversation  TEXT,                        -- platform conversation reference (JSON)
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (platform, workspace, chat_user)
);
CREATE INDEX people_by_object ON people (object_id);

-- The outbox: every effect planned, keyed by its idempotency key. Recording
-- the key and queueing the effect are one row, hence one transaction.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    key             TEXT NOT NULL UNIQUE,
    request_id      TEXT NOT NULL,
    job             TEXT NOT NULL,             -- JSON: what to send and where
    status          TEXT NOT NULL DEFAULT 'pending', -- pending | sending | sent | failed
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,          -- unix ms (real time)
    lease_until     INTEGER,                   -- unix ms; a sending row past it is re-claimed
    last_error      TEXT,
    message_ref     TEXT,                      -- JSON list of (identity, ref) posted
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_by_request ON outbox (request_id);

-- Approval cards: at most one per (request, stage, approver, platform).
CREATE TABLE cards (
    request_id    TEXT NOT NULL,
    stage         INTEGER NOT NULL,
    approver      TEXT NOT NULL,
    platform      TEXT NOT NULL,
    recipient     TEXT NOT NULL,               -- JSON chat identity
    message_ref   TEXT NOT NULL,
    card          TEXT NOT NULL,               -- JSON ApprovalCard as posted
    state         TEXT NOT NULL DEFAULT 'live', -- live | retired
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    UNIQUE (request_id, stage, approver, platform)
);

-- Decisions taken in chat: recorded before they are relayed to Graph as the
-- approver, relayed at most once.
CREATE TABLE decisions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id    TEXT NOT NULL,
    stage         INTEGER NOT NULL,
    stage_id      TEXT NOT NULL,
    approver      TEXT NOT NULL,
    identity      TEXT NOT NULL,               -- JSON chat identity that clicked
    review        TEXT NOT NULL,               -- Approve | Deny
    justification TEXT NOT NULL,
    state         TEXT NOT NULL,               -- recorded | relaying | relayed | conflict | failed
    detail        TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
-- One live decision per stage; conflicts and failures do not block another.
CREATE UNIQUE INDEX decisions_one_per_stage ON decisions (request_id, stage)
    WHERE state IN ('recorded', 'relaying', 'relayed');

-- Activations made through the bot.
CREATE TABLE activations (
    request_id    TEXT PRIMARY KEY,
    requester     TEXT NOT NULL,
    group_id      TEXT NOT NULL,
    duration      TEXT NOT NULL,
    state         TEXT NOT NULL,               -- requested | active | failed
    schedule_request_id TEXT,
    active_until  TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
