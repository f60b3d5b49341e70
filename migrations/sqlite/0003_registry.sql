-- The registry: tools (mutable, revisioned) and instructions (immutable
-- versions). Times are epoch milliseconds; configurations are canonical JSON
-- objects stored as text. Ids are unique per organization, so the
-- organization is part of every key.

-- revision grows with every change of the tool (ETag, If-Match).
CREATE TABLE tools (
  organization_id TEXT NOT NULL REFERENCES organizations (id),
  id TEXT NOT NULL,
  config TEXT NOT NULL
    CHECK (json_valid(config) AND json_type(config) = 'object'),
  revision INTEGER NOT NULL CHECK (revision >= 1),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (organization_id, id)
) STRICT;

-- latest_version is the highest version number (≥ 1: an instruction is
-- created with its version 1).
CREATE TABLE instructions (
  organization_id TEXT NOT NULL REFERENCES organizations (id),
  id TEXT NOT NULL,
  latest_version INTEGER NOT NULL CHECK (latest_version >= 1),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (organization_id, id)
) STRICT;

-- created_by: the id of the API key that wrote the version.
CREATE TABLE instruction_versions (
  organization_id TEXT NOT NULL,
  instruction_id TEXT NOT NULL,
  version INTEGER NOT NULL CHECK (version >= 1),
  config TEXT NOT NULL
    CHECK (json_valid(config) AND json_type(config) = 'object'),
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  PRIMARY KEY (organization_id, instruction_id, version),
  FOREIGN KEY (organization_id, instruction_id)
    REFERENCES instructions (organization_id, id)
) STRICT;
