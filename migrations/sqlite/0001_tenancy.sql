-- Organizations (tenants) and their API keys. Times are epoch milliseconds.

CREATE TABLE organizations (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE COLLATE NOCASE,  -- "Acme" and "acme" are one name
  created_at INTEGER NOT NULL
) STRICT;

-- A key is stored only as the hash of its value; `prefix` is the visible part.
-- scopes: JSON array of strings. agent_ids: JSON array of agent ids, or NULL
-- for every agent of the organization. rate_per_second and rate_burst are
-- both NULL (server default) or both set.
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  organization_id TEXT NOT NULL REFERENCES organizations (id),
  name TEXT NOT NULL,
  prefix TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  scopes TEXT NOT NULL
    CHECK (json_valid(scopes) AND json_type(scopes) = 'array'),
  agent_ids TEXT
    CHECK (agent_ids IS NULL
           OR (json_valid(agent_ids) AND json_type(agent_ids) = 'array')),
  expires_at INTEGER,
  revoked_at INTEGER,
  rate_per_second REAL,
  rate_burst INTEGER,
  created_by TEXT,
  created_at INTEGER NOT NULL,
  CHECK ((rate_per_second IS NULL) = (rate_burst IS NULL))
) STRICT;

-- Listing an organization's keys by id (keyset pagination).
CREATE INDEX api_keys_by_organization ON api_keys (organization_id, id);
