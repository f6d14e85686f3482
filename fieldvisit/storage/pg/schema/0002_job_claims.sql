-- Background jobs are claimed by any server process's worker (FOR UPDATE SKIP LOCKED);
-- a job whose worker stopped beating is claimed again, at most a few times (attempts).
ALTER TABLE jobs ADD COLUMN attempts integer NOT NULL DEFAULT 0;

-- Jobs left unfinished by the servers before this version held their work in the memory
-- of a process that is gone (and have no kind a worker could claim): end them, so that
-- they do not count against their owner's queue for the rest of the day.
UPDATE jobs SET status = 'failed', error = 'queued before an upgrade: ask for it again',
    finished = extract(epoch FROM clock_timestamp())
    WHERE status IN ('queued', 'running');

-- Expired rate-limit rows are swept now and then (storage.pg.ratelimit).
CREATE INDEX rate_limits_expires ON rate_limits (expires);
