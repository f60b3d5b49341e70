-- Agents: a mutable head (the draft and which version is active) and its
-- immutable published versions (migrations/sqlite/0002_agents.sql in
-- PostgreSQL terms). Times are epoch milliseconds; configurations are
-- canonical JSON objects stored as TEXT, byte for byte as written (jsonb
-- would reorder their members).

-- revision grows with every change of the agent (optimistic concurrency);
-- draft_revision with every change of the draft; published_draft_revision is
-- the draft revision last published (0: never). active_version is NULL until
-- the first publish; latest_version is the highest version number (0: none).
-- current_name and current_enabled are denormalised from the current view
-- (active version, else draft) for list filters; current_name_folded is
-- current_name in Unicode lower case as the server folds it (FoldCase), for
-- the case-insensitive name filter (SQLite computes it in the query).
CREATE TABLE agents (
  id TEXT COLLATE "C" PRIMARY KEY,
  organization_id TEXT COLLATE "C" NOT NULL REFERENCES organizations (id),
  key TEXT COLLATE "C" NOT NULL,
  draft TEXT NOT NULL CHECK (json_typeof(draft::json) = 'object'),
  revision BIGINT NOT NULL CHECK (revision >= 1),
  draft_revision BIGINT NOT NULL CHECK (draft_revision >= 1),
  published_draft_revision BIGINT NOT NULL
    CHECK (published_draft_revision >= 0
           AND published_draft_revision <= draft_revision),
  active_version INTEGER
    CHECK (active_version IS NULL
           OR (active_version >= 1 AND active_version <= latest_version)),
  latest_version INTEGER NOT NULL CHECK (latest_version >= 0),
  current_name TEXT COLLATE "C" NOT NULL,
  current_name_folded TEXT COLLATE "C" NOT NULL,
  current_enabled BOOLEAN NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  CONSTRAINT agents_key_key UNIQUE (organization_id, key)
);

-- Listing an organization's agents by id (keyset pagination).
CREATE INDEX agents_by_organization ON agents (organization_id, id);

-- published_by: the id of the API key that published the version.
CREATE TABLE agent_versions (
  agent_id TEXT COLLATE "C" NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
  version INTEGER NOT NULL CHECK (version >= 1),
  config TEXT NOT NULL CHECK (json_typeof(config::json) = 'object'),
  note TEXT NOT NULL,
  published_at BIGINT NOT NULL,
  published_by TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (agent_id, version)
);

-- Audit of publish and activate: who (API key id) and when. Kept when the
-- agent is deleted, so it has no foreign key to agents.
CREATE TABLE agent_events (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  organization_id TEXT COLLATE "C" NOT NULL,
  agent_id TEXT COLLATE "C" NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('publish', 'activate')),
  version INTEGER NOT NULL CHECK (version >= 1),
  key_id TEXT COLLATE "C" NOT NULL,
  at BIGINT NOT NULL
);

CREATE INDEX agent_events_by_agent ON agent_events (agent_id, seq);
