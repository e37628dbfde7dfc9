-- A version row is written when a deploy starts (the definition it works on,
-- kept out of Temporal's history) and marked once that deploy succeeded.
ALTER TABLE workflow_versions ADD COLUMN deployed boolean NOT NULL DEFAULT false;
UPDATE workflow_versions SET deployed = true;

-- A custom webhook path stays reserved to the user who first deployed it, so
-- that after an undeploy nobody else can take over its senders' traffic.
CREATE TABLE webhook_paths (
    path         text PRIMARY KEY,
    user_id      text NOT NULL,
    workflow_id  text NOT NULL,
    reserved_at  timestamptz NOT NULL DEFAULT now()
);
