-- The registry: tools (mutable, revisioned) and instructions (immutable
-- versions), as migrations/sqlite/0003_registry.sql. Times are epoch
-- milliseconds; configurations are canonical JSON objects stored as TEXT.
-- Ids are unique per organization, so the organization is part of every key.

-- revision grows with every change of the tool (ETag, If-Match).
CREATE TABLE tools (
  organization_id TEXT COLLATE "C" NOT NULL REFERENCES organizations (id),
  id TEXT COLLATE "C" NOT NULL,
  config TEXT NOT NULL CHECK (json_typeof(config::json) = 'object'),
  revision BIGINT NOT NULL CHECK (revision >= 1),
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (organization_id, id)
);

-- latest_version is the highest version number (≥ 1: an instruction is
-- created with its version 1).
CREATE TABLE instructions (
  organization_id TEXT COLLATE "C" NOT NULL REFERENCES organizations (id),
  id TEXT COLLATE "C" NOT NULL,
  latest_version INTEGER NOT NULL CHECK (latest_version >= 1),
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (organization_id, id)
);

-- created_by: the id of the API key that wrote the version.
CREATE TABLE instruction_versions (
  organization_id TEXT COLLATE "C" NOT NULL,
  instruction_id TEXT COLLATE "C" NOT NULL,
  version INTEGER NOT NULL CHECK (version >= 1),
  config TEXT NOT NULL CHECK (json_typeof(config::json) = 'object'),
  created_at BIGINT NOT NULL,
  created_by TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (organization_id, instruction_id, version),
  FOREIGN KEY (organization_id, instruction_id)
    REFERENCES instructions (organization_id, id)
);
