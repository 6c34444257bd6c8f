-- The database's own limit for the task engine's work per batch: lease up to `batch` due
-- queued tasks with FOR UPDATE SKIP LOCKED (lowest priority number, then run_at, then id),
-- then mark them succeeded, fenced on (id, attempts), the lease holder and the status -- the
-- statements of src/conveyor/tasks/repository.py. (The worker sends both as one autocommitted
-- statement, `complete_and_claim_postgres`; here they are two transactions, which is at least
-- as much work for the database.) Run with -M prepared: the arrays are bound as parameters.
\set batch 10
BEGIN;
WITH chosen AS (
    SELECT task.id FROM task
    WHERE task.status = 'queued' AND task.run_at <= now()
    ORDER BY task.priority, task.run_at, task.id
    LIMIT :batch
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE task SET status = 'running', attempts = task.attempts + 1,
        locked_by = 'pgbench-' || :client_id::text,
        locked_until = now() + interval '30 seconds', updated_at = now(), started_at = now()
    FROM chosen WHERE task.id = chosen.id
    RETURNING task.id, task.name, task.queue, task.payload, task.attempts, task.max_attempts,
        task.run_at, task.created_at
)
SELECT coalesce(array_agg(id), '{}') AS ids, coalesce(array_agg(attempts), '{}') AS attempts
FROM claimed
\gset
COMMIT;
BEGIN;
UPDATE task SET status = 'succeeded', locked_by = NULL, locked_until = NULL,
    updated_at = now(), finished_at = now()
WHERE (task.id, task.attempts) IN (SELECT * FROM unnest(:ids::bigint[], :attempts::int[]))
    AND task.locked_by = 'pgbench-' || :client_id::text AND task.status = 'running'
RETURNING task.id;
COMMIT;
