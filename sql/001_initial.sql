-- Foundation schema: workflows, their deployed versions and history, the
-- trigger index, the ingress outbox and the record of every firing.

CREATE TABLE workflows (
    id                  text PRIMARY KEY,
    name                text NOT NULL,
    user_id             text NOT NULL,
    definition          jsonb NOT NULL,
    deployment_status   text NOT NULL DEFAULT 'DRAFT',
    deployed_at         timestamptz,
    deployed_by         text,
    deployment_version  integer NOT NULL DEFAULT 1,
    deployment_config   jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT workflows_status_check CHECK (deployment_status IN (
        'DRAFT', 'DEPLOYING', 'DEPLOYED', 'DEPLOYMENT_FAILED',
        'UNDEPLOYING', 'UNDEPLOYED', 'DEPRECATED'))
);
CREATE INDEX workflows_user_idx ON workflows (user_id);
CREATE INDEX workflows_status_idx ON workflows (deployment_status);

-- The exact definition each deployed version ran with (rollback reads these).
CREATE TABLE workflow_versions (
    workflow_id         text NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    version             integer NOT NULL,
    definition          jsonb NOT NULL,
    deployment_config   jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_by          text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workflow_id, version)
);

CREATE TABLE workflow_deployment_history (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workflow_id         text NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    deployment_action   text NOT NULL,
    from_status         text,
    to_status           text NOT NULL,
    deployment_version  integer,
    triggered_by        text,
    started_at          timestamptz NOT NULL DEFAULT now(),
    completed_at        timestamptz,
    error_message       text,
    deployment_logs     jsonb NOT NULL DEFAULT '[]'::jsonb
);
CREATE INDEX workflow_deployment_history_wf_idx
    ON workflow_deployment_history (workflow_id, started_at);

CREATE TABLE trigger_index (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workflow_id         text NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    node_id             text NOT NULL,
    deployment_version  integer NOT NULL,
    trigger_type        text NOT NULL,
    trigger_config      jsonb NOT NULL,
    index_key           text,
    deployment_status   text NOT NULL DEFAULT 'active',
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT trigger_index_node_key UNIQUE (workflow_id, node_id),
    CONSTRAINT trigger_index_status_check
        CHECK (deployment_status IN ('active', 'testing', 'inactive'))
);
CREATE INDEX trigger_index_type_key_idx
    ON trigger_index (trigger_type, index_key) WHERE index_key IS NOT NULL;
CREATE INDEX trigger_index_type_key_status_idx
    ON trigger_index (trigger_type, index_key, deployment_status)
    WHERE index_key IS NOT NULL;
-- A webhook path belongs to one live trigger at a time.
CREATE UNIQUE INDEX trigger_index_webhook_path_key
    ON trigger_index (index_key)
    WHERE trigger_type = 'TRIGGER_WEBHOOK' AND deployment_status <> 'inactive';

-- The ingress outbox: a row exists before the 2xx is sent.
CREATE TABLE trigger_events (
    id                  bigserial PRIMARY KEY,
    event_id            uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    workflow_id         text NOT NULL,
    node_id             text NOT NULL,
    trigger_type        text NOT NULL,
    event_key           text NOT NULL,
    deployment_version  integer NOT NULL,
    dispatch_id         text NOT NULL,
    payload             jsonb NOT NULL,
    received_at         timestamptz NOT NULL DEFAULT now(),
    relayed_at          timestamptz,
    relay_attempts      integer NOT NULL DEFAULT 0,
    next_attempt_at     timestamptz NOT NULL DEFAULT now(),
    last_error          text,
    CONSTRAINT trigger_events_dedup_key UNIQUE (workflow_id, node_id, event_key)
);
CREATE INDEX trigger_events_pending_idx
    ON trigger_events (next_attempt_at, id) WHERE relayed_at IS NULL;

-- One row per firing (every DispatchExecution), written by the worker.
CREATE TABLE trigger_firings (
    execution_id        uuid PRIMARY KEY,
    dispatch_id         text NOT NULL UNIQUE,
    workflow_id         text NOT NULL,
    node_id             text NOT NULL,
    trigger_type        text NOT NULL,
    deployment_version  integer NOT NULL,
    dispatch_mode       text NOT NULL,
    status              text NOT NULL,
    http_status         integer,
    attempts            integer NOT NULL DEFAULT 0,
    event_count         integer NOT NULL DEFAULT 1,
    error_message       text,
    triggered_at        timestamptz NOT NULL,
    completed_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX trigger_firings_wf_idx ON trigger_firings (workflow_id, node_id, triggered_at);
