-- Several nodes on one database (DESIGN §7).
--
-- Coherence: every change to something a node keeps in memory is announced
-- on the channel `agentry` by a trigger, so in the same transaction as the
-- change (PostgreSQL delivers it at COMMIT, never for a rollback). The
-- payload is "NODE|KIND|ORGANIZATION|ID": NODE is the writing session's
-- `agentry.node` setting (each process sets its own, so a node can tell its
-- own changes apart), KIND one of agent, api_key, instruction, tool,
-- profile, pool, lease_freed.

CREATE FUNCTION agentry_announce() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  r jsonb;
  org text;
BEGIN
  IF TG_OP = 'DELETE' THEN
    r := to_jsonb(OLD);
  ELSE
    r := to_jsonb(NEW);
  END IF;
  org := r ->> 'organization_id';
  IF org IS NULL AND TG_ARGV[0] = 'agent' THEN
    SELECT organization_id INTO org FROM agents WHERE id = r ->> TG_ARGV[1];
  END IF;
  PERFORM pg_notify('agentry',
    coalesce(current_setting('agentry.node', true), '') || '|' ||
    TG_ARGV[0] || '|' || coalesce(org, '') || '|' ||
    coalesce(r ->> TG_ARGV[1], ''));
  RETURN NULL;
END;
$$;

CREATE TRIGGER agents_announce AFTER INSERT OR UPDATE OR DELETE ON agents
  FOR EACH ROW EXECUTE FUNCTION agentry_announce('agent', 'id');
CREATE TRIGGER agent_versions_announce AFTER INSERT OR UPDATE OR DELETE
  ON agent_versions
  FOR EACH ROW EXECUTE FUNCTION agentry_announce('agent', 'agent_id');
CREATE TRIGGER api_keys_announce AFTER INSERT OR UPDATE OR DELETE ON api_keys
  FOR EACH ROW EXECUTE FUNCTION agentry_announce('api_key', 'id');
CREATE TRIGGER instructions_announce AFTER INSERT OR UPDATE OR DELETE
  ON instructions
  FOR EACH ROW EXECUTE FUNCTION agentry_announce('instruction', 'id');
CREATE TRIGGER tools_announce AFTER INSERT OR UPDATE OR DELETE ON tools
  FOR EACH ROW EXECUTE FUNCTION agentry_announce('tool', 'id');
-- A grant raises fencing_token and last_leased_at: not a change of the
-- profile as nodes keep it.
CREATE TRIGGER profiles_announce AFTER INSERT OR DELETE ON profiles
  FOR EACH ROW EXECUTE FUNCTION agentry_announce('profile', 'id');
CREATE TRIGGER profiles_announce_update AFTER UPDATE ON profiles
  FOR EACH ROW WHEN (OLD.revision IS DISTINCT FROM NEW.revision
                     OR OLD.config IS DISTINCT FROM NEW.config
                     OR OLD.enabled IS DISTINCT FROM NEW.enabled)
  EXECUTE FUNCTION agentry_announce('profile', 'id');
CREATE TRIGGER pools_announce AFTER INSERT OR UPDATE OR DELETE ON pools
  FOR EACH ROW EXECUTE FUNCTION agentry_announce('pool', 'id');
CREATE TRIGGER pool_members_announce AFTER INSERT OR UPDATE OR DELETE
  ON pool_members
  FOR EACH ROW EXECUTE FUNCTION agentry_announce('pool', 'pool_id');
-- A release frees a profile: waiting acquisitions on every node try again.
CREATE TRIGGER leases_announce_release AFTER UPDATE ON leases
  FOR EACH ROW WHEN (OLD.released_at IS NULL AND NEW.released_at IS NOT NULL)
  EXECUTE FUNCTION agentry_announce('lease_freed', 'id');

-- Leases decided in the database: the active leases of a profile, and the
-- order of grants within one millisecond (least/most recently used).
CREATE INDEX leases_live_by_profile ON leases (organization_id, profile_id)
  WHERE released_at IS NULL;
CREATE SEQUENCE lease_grants;
ALTER TABLE profiles ADD COLUMN last_grant_seq BIGINT NOT NULL DEFAULT 0;
