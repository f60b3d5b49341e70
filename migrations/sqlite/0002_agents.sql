-- Agents: a mutable head (the draft and which version is active) and its
-- immutable published versions. Times are epoch milliseconds; configurations
-- are canonical JSON objects stored as text.

-- revision grows with every change of the agent (optimistic concurrency);
-- draft_revision with every change of the draft; published_draft_revision is
-- the draft revision last published (0: never). active_version is NULL until
-- the first publish; latest_version is the highest version number (0: none).
-- current_name and current_enabled are denormalised from the current view
-- (active version, else draft) for list filters.
CREATE TABLE agents (
  id TEXT PRIMARY KEY,
  organization_id TEXT NOT NULL REFERENCES organizations (id),
  key TEXT NOT NULL,
  draft TEXT NOT NULL
    CHECK (json_valid(draft) AND json_type(draft) = 'object'),
  revision INTEGER NOT NULL CHECK (revision >= 1),
  draft_revision INTEGER NOT NULL CHECK (draft_revision >= 1),
  published_draft_revision INTEGER NOT NULL
    CHECK (published_draft_revision >= 0
           AND published_draft_revision <= draft_revision),
  active_version INTEGER
    CHECK (active_version IS NULL
           OR (active_version >= 1 AND active_version <= latest_version)),
  latest_version INTEGER NOT NULL CHECK (latest_version >= 0),
  current_name TEXT NOT NULL,
  current_enabled INTEGER NOT NULL CHECK (current_enabled IN (0, 1)),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (organization_id, key)
) STRICT;

-- Listing an organization's agents by id (keyset pagination).
CREATE INDEX agents_by_organization ON agents (organization_id, id);

-- published_by: the id of the API key that published the version.
CREATE TABLE agent_versions (
  agent_id TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
  version INTEGER NOT NULL CHECK (version >= 1),
  config TEXT NOT NULL
    CHECK (json_valid(config) AND json_type(config) = 'object'),
  note TEXT NOT NULL,
  published_at INTEGER NOT NULL,
  published_by TEXT NOT NULL,
  PRIMARY KEY (agent_id, version)
) STRICT;

-- Audit of publish and activate: who (API key id) and when. Kept when the
-- agent is deleted, so it has no foreign key to agents.
CREATE TABLE agent_events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  organization_id TEXT NOT NULL,
  agent_id TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('publish', 'activate')),
  version INTEGER NOT NULL CHECK (version >= 1),
  key_id TEXT NOT NULL,
  at INTEGER NOT NULL
) STRICT;

CREATE INDEX agent_events_by_agent ON agent_events (agent_id, seq);
