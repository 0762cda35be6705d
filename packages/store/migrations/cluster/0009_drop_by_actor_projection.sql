-- Replicated-cluster variant of 0009 (see the single-node file for why): the by_actor projection of
-- every shard's decisions_local is dropped.
ALTER TABLE {db}.decisions_local ON CLUSTER {cluster} DROP PROJECTION IF EXISTS by_actor;
