-- The lease write path (issue 9). Every grant records its profile's
-- fencing token and start time; on the profile's own row (with its
-- configuration) that dirtied one page per granted profile in each
-- committed batch. They move to a narrow table (~45 rows per page), and
-- the values already recorded move with them.
CREATE TABLE profile_grants (
  organization_id TEXT NOT NULL,
  profile_id TEXT NOT NULL,
  -- The token of the profile's latest grant; when that grant began. Both
  -- only grow.
  fencing_token INTEGER NOT NULL CHECK (fencing_token >= 1),
  last_leased_at INTEGER NOT NULL,
  PRIMARY KEY (organization_id, profile_id),
  FOREIGN KEY (organization_id, profile_id)
    REFERENCES profiles (organization_id, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

INSERT INTO profile_grants (organization_id, profile_id, fencing_token,
                            last_leased_at)
  SELECT organization_id, id, fencing_token, coalesce(last_leased_at, 0)
  FROM profiles WHERE fencing_token > 0;

ALTER TABLE profiles DROP COLUMN fencing_token;
ALTER TABLE profiles DROP COLUMN last_leased_at;

-- Nothing reads leases by pool on SQLite (a pool's live leases are listed
-- from memory): one B-tree less to write per grant.
DROP INDEX leases_by_pool;
