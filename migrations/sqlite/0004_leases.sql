-- Credential profiles, pools of them, and leases. Times are epoch
-- milliseconds; configurations are canonical JSON objects stored as text,
-- with every credential `data` and cookie `value` sealed (XChaCha20-Poly1305
-- under the master key) before it reaches this file.

-- fencing_token: the token of the profile's latest grant (0: never leased);
-- last_leased_at: when that grant began (NULL: never). Both only grow.
CREATE TABLE profiles (
  organization_id TEXT NOT NULL REFERENCES organizations (id),
  id TEXT NOT NULL,
  config TEXT NOT NULL
    CHECK (json_valid(config) AND json_type(config) = 'object'),
  enabled INTEGER NOT NULL CHECK (enabled IN (0, 1)),
  revision INTEGER NOT NULL CHECK (revision >= 1),
  fencing_token INTEGER NOT NULL DEFAULT 0 CHECK (fencing_token >= 0),
  last_leased_at INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (organization_id, id)
) STRICT;

CREATE TABLE pools (
  organization_id TEXT NOT NULL REFERENCES organizations (id),
  id TEXT NOT NULL,
  name TEXT NOT NULL,
  config TEXT NOT NULL
    CHECK (json_valid(config) AND json_type(config) = 'object'),
  revision INTEGER NOT NULL CHECK (revision >= 1),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (organization_id, id),
  UNIQUE (organization_id, name)
) STRICT;

CREATE TABLE pool_members (
  organization_id TEXT NOT NULL,
  pool_id TEXT NOT NULL,
  profile_id TEXT NOT NULL,
  added_at INTEGER NOT NULL,
  PRIMARY KEY (organization_id, pool_id, profile_id),
  FOREIGN KEY (organization_id, pool_id)
    REFERENCES pools (organization_id, id) ON DELETE CASCADE,
  FOREIGN KEY (organization_id, profile_id)
    REFERENCES profiles (organization_id, id) ON DELETE CASCADE
) STRICT;

CREATE INDEX pool_members_by_profile
  ON pool_members (organization_id, profile_id);

-- A lease outlives its pool (the readers-writer rule is per profile), so
-- pool_id has no foreign key. released_at is NULL while not released; a
-- lease is active while not released and expires_at is in the future.
CREATE TABLE leases (
  id TEXT PRIMARY KEY,
  organization_id TEXT NOT NULL,
  pool_id TEXT NOT NULL,
  profile_id TEXT NOT NULL,
  exclusive INTEGER NOT NULL CHECK (exclusive IN (0, 1)),
  holder TEXT,
  fencing_token INTEGER NOT NULL CHECK (fencing_token >= 1),
  acquired_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  released_at INTEGER
) STRICT;

-- Loading the live leases at start.
CREATE INDEX leases_unreleased ON leases (expires_at) WHERE released_at IS NULL;
CREATE INDEX leases_by_pool ON leases (organization_id, pool_id, id);
