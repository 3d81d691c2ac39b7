-- Posts an outbox job has sent without (yet) learning their reference:
-- JSON `[{"to": <chat identity>, "first": <time>, "last": <time>}]`. Written
-- before each post, so after a crash (or a lost answer) the job knows a post
-- may have landed and looks for it instead of posting again.
ALTER TABLE outbox ADD COLUMN post_attempts TEXT;
