-- The lease write path (issue 9): the index of unreleased leases — what a
-- restart loads — held every lease from its grant to its release: a B-tree
-- insert and delete more per lease, nearly all of them for leases released
-- within a second. It now holds only the leases a fold (0007) found
-- unreleased, marked `pinned`; the leases after the last fold are read by
-- the range of their ids instead (at most a few thousand rows). A lease
-- granted with an id not after the folded ones (a clock set back) is
-- pinned at once.
ALTER TABLE leases ADD COLUMN pinned INTEGER CHECK (pinned = 1);

-- Every lease so far is at or before the last fold (0007 recorded the
-- greatest id).
UPDATE leases SET pinned = 1 WHERE released_at IS NULL;

DROP INDEX leases_unreleased;
CREATE INDEX leases_pinned ON leases (expires_at)
  WHERE released_at IS NULL AND pinned = 1;
