-- Leases decided in the database, fast: whether a profile is free is kept on
-- its own row, so choosing one reads only the pool's members and their
-- profile rows (no probe of the leases table per member), and a profile row
-- locked after another node's grant is re-checked by PostgreSQL itself
-- against that grant (READ COMMITTED re-evaluates the WHERE clause on the
-- newest row version).
--
-- exclusive_until / shared_until: the latest expires_at among the profile's
-- unreleased exclusive / shared leases (0: none). A profile is free for an
-- exclusive lease at NOW when both are <= NOW, for a shared one when
-- exclusive_until <= NOW. Kept by a trigger on every write of a lease
-- (grant, renewal, release), whatever the code path.

ALTER TABLE profiles ADD COLUMN exclusive_until BIGINT NOT NULL DEFAULT 0;
ALTER TABLE profiles ADD COLUMN shared_until BIGINT NOT NULL DEFAULT 0;

CREATE FUNCTION agentry_lease_state() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE profiles p SET
    exclusive_until = COALESCE((SELECT max(l.expires_at) FROM leases l
      WHERE l.organization_id = NEW.organization_id
        AND l.profile_id = NEW.profile_id
        AND l.released_at IS NULL AND l.exclusive), 0),
    shared_until = COALESCE((SELECT max(l.expires_at) FROM leases l
      WHERE l.organization_id = NEW.organization_id
        AND l.profile_id = NEW.profile_id
        AND l.released_at IS NULL AND NOT l.exclusive), 0)
  WHERE p.organization_id = NEW.organization_id AND p.id = NEW.profile_id;
  RETURN NULL;
END;
$$;

CREATE TRIGGER leases_state AFTER INSERT OR UPDATE OF expires_at, released_at
  ON leases FOR EACH ROW EXECUTE FUNCTION agentry_lease_state();

-- The leases already there.
UPDATE profiles p SET
  exclusive_until = COALESCE((SELECT max(l.expires_at) FROM leases l
    WHERE l.organization_id = p.organization_id AND l.profile_id = p.id
      AND l.released_at IS NULL AND l.exclusive), 0),
  shared_until = COALESCE((SELECT max(l.expires_at) FROM leases l
    WHERE l.organization_id = p.organization_id AND l.profile_id = p.id
      AND l.released_at IS NULL AND NOT l.exclusive), 0);

