-- Give a claimed chunk back (pending after a timeout, failed after a data error) with the
-- error's first line, if this worker still holds the claim.
-- Idempotent (sets fixed values). Locks: a row lock on one chunk row.
-- Placeholders: the chunk ledger table. Parameters: status, error, chunk_id, worker.
UPDATE {chunks}
   SET status = %(status)s, last_error = %(error)s, claimed_by = NULL
 WHERE chunk_id = %(chunk_id)s AND claimed_by = %(worker)s
