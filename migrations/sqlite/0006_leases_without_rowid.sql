-- The lease write path (issue 9): leases keyed by their id alone. A rowid
-- table kept a second B-tree for the id (its primary key); a grant wrote
-- both and a release searched both.
CREATE TABLE leases_by_id (
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
) STRICT, WITHOUT ROWID;

INSERT INTO leases_by_id (id, organization_id, pool_id, profile_id, exclusive,
                          holder, fencing_token, acquired_at, expires_at,
                          released_at)
  SELECT id, organization_id, pool_id, profile_id, exclusive, holder,
         fencing_token, acquired_at, expires_at, released_at
  FROM leases;

DROP TABLE leases;
ALTER TABLE leases_by_id RENAME TO leases;

-- Loading the live leases at start.
CREATE INDEX leases_unreleased ON leases (expires_at) WHERE released_at IS NULL;
