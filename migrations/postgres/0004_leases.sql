-- Credential profiles, pools of them, and leases, as
-- migrations/sqlite/0004_leases.sql. Times are epoch milliseconds;
-- configurations are canonical JSON objects stored as TEXT, with every
-- credential `data` and cookie `value` sealed (XChaCha20-Poly1305 under the
-- master key) before it reaches this file.

-- fencing_token: the token of the profile's latest grant (0: never leased);
-- last_leased_at: when that grant began (NULL: never). Both only grow.
CREATE TABLE profiles (
  organization_id TEXT COLLATE "C" NOT NULL REFERENCES organizations (id),
  id TEXT COLLATE "C" NOT NULL,
  config TEXT NOT NULL CHECK (json_typeof(config::json) = 'object'),
  enabled BOOLEAN NOT NULL,
  revision BIGINT NOT NULL CHECK (revision >= 1),
  fencing_token BIGINT NOT NULL DEFAULT 0 CHECK (fencing_token >= 0),
  last_leased_at BIGINT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (organization_id, id)
);

CREATE TABLE pools (
  organization_id TEXT COLLATE "C" NOT NULL REFERENCES organizations (id),
  id TEXT COLLATE "C" NOT NULL,
  name TEXT COLLATE "C" NOT NULL,
  config TEXT NOT NULL CHECK (json_typeof(config::json) = 'object'),
  revision BIGINT NOT NULL CHECK (revision >= 1),
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (organization_id, id),
  CONSTRAINT pools_name_key UNIQUE (organization_id, name)
);

CREATE TABLE pool_members (
  organization_id TEXT COLLATE "C" NOT NULL,
  pool_id TEXT COLLATE "C" NOT NULL,
  profile_id TEXT COLLATE "C" NOT NULL,
  added_at BIGINT NOT NULL,
  PRIMARY KEY (organization_id, pool_id, profile_id),
  FOREIGN KEY (organization_id, pool_id)
    REFERENCES pools (organization_id, id) ON DELETE CASCADE,
  FOREIGN KEY (organization_id, profile_id)
    REFERENCES profiles (organization_id, id) ON DELETE CASCADE
);

CREATE INDEX pool_members_by_profile
  ON pool_members (organization_id, profile_id);

-- A lease outlives its pool (the readers-writer rule is per profile), so
-- pool_id has no foreign key. released_at is NULL while not released; a
-- lease is active while not released and expires_at is in the future.
CREATE TABLE leases (
  id TEXT COLLATE "C" PRIMARY KEY,
  organization_id TEXT COLLATE "C" NOT NULL,
  pool_id TEXT COLLATE "C" NOT NULL,
  profile_id TEXT COLLATE "C" NOT NULL,
  exclusive BOOLEAN NOT NULL,
  holder TEXT,
  fencing_token BIGINT NOT NULL CHECK (fencing_token >= 1),
  acquired_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  released_at BIGINT
);

-- Loading the live leases at start.
CREATE INDEX leases_unreleased ON leases (expires_at) WHERE released_at IS NULL;
CREATE INDEX leases_by_pool ON leases (organization_id, pool_id, id);
