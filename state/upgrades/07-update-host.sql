-- v6 -> v7: updates on several Docker hosts

-- host names the engine the updated container runs on (docker.hosts); '' is the one
-- engine of docker.host, as for every update journaled before.
ALTER TABLE update_job ADD COLUMN host TEXT NOT NULL DEFAULT '';
