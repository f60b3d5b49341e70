-- The lease write path (issue 9): a grant writes its lease row and nothing
-- else. The profiles' token rows (profile_grants) are brought up to date
-- from the leases in batches — every few thousand grants, one statement
-- folds the leases written since the last fold (the greatest fencing token
-- and start time per profile) — so a grant no longer rewrites a second
-- table. Leases are folded in id order, up to `through_lease_id`; reading a
-- profile's token means profile_grants plus the leases after that id (a
-- tail of at most a few thousand rows). A lease whose id is not after it
-- (lease ids are UUIDv7 and normally only grow, but a clock set back could
-- make one smaller) writes its token row itself, as every grant did before.
CREATE TABLE lease_grants_folded (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  through_lease_id TEXT NOT NULL
) STRICT;

-- Every lease written so far already raised its profile's token row.
INSERT INTO lease_grants_folded (id, through_lease_id)
  SELECT 1, coalesce(max(id), '') FROM leases;
