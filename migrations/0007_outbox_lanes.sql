-- The chats a job waits on (its lane): the worker delivers only a few jobs
-- of one lane at a time, so a person whose chat the platform is throttling
-- cannot fill every delivery slot and hold up everyone else's messages.
ALTER TABLE outbox ADD COLUMN lane TEXT NOT NULL DEFAULT '';

-- Jobs queued before lanes existed each get a lane of their own (delivered
-- as before).
UPDATE outbox SET lane = 'job:' || id;
