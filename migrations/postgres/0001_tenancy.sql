-- Organizations (tenants) and their API keys: the tables of
-- migrations/sqlite/0001_tenancy.sql in PostgreSQL terms. Times are epoch
-- milliseconds (BIGINT). Identifiers and names compare and sort by bytes
-- (COLLATE "C", as SQLite does), whatever the database's locale.

CREATE TABLE organizations (
  id TEXT COLLATE "C" PRIMARY KEY,
  name TEXT COLLATE "C" NOT NULL,
  created_at BIGINT NOT NULL
);

-- "Acme" and "acme" are one name: lower() under "C" folds ASCII letters
-- only, like SQLite's NOCASE.
CREATE UNIQUE INDEX organizations_name_key ON organizations (lower(name));

-- A key is stored only as the hash of its value; `prefix` is the visible part.
-- scopes: JSON array of strings. agent_ids: JSON array of agent ids, or NULL
-- for every agent of the organization. rate_per_second and rate_burst are
-- both NULL (server default) or both set.
CREATE TABLE api_keys (
  id TEXT COLLATE "C" PRIMARY KEY,
  organization_id TEXT COLLATE "C" NOT NULL REFERENCES organizations (id),
  name TEXT NOT NULL,
  prefix TEXT COLLATE "C" NOT NULL,
  hash TEXT COLLATE "C" NOT NULL CONSTRAINT api_keys_hash_key UNIQUE,
  scopes TEXT NOT NULL CHECK (json_typeof(scopes::json) = 'array'),
  agent_ids TEXT
    CHECK (agent_ids IS NULL OR json_typeof(agent_ids::json) = 'array'),
  expires_at BIGINT,
  revoked_at BIGINT,
  rate_per_second DOUBLE PRECISION,
  rate_burst BIGINT,
  created_by TEXT COLLATE "C",
  created_at BIGINT NOT NULL,
  CHECK ((rate_per_second IS NULL) = (rate_burst IS NULL))
);

-- Listing an organization's keys by id (keyset pagination).
CREATE INDEX api_keys_by_organization ON api_keys (organization_id, id);
