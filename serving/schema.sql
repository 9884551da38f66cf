-- agentdesk's own tables. Idempotent: run at every start.
-- An advisory lock keeps concurrent starters from racing on CREATE.
SELECT pg_advisory_lock(716253);

CREATE TABLE IF NOT EXISTS agentdesk_audit (
    id              bigserial PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT now(),
    kind            text NOT NULL,          -- decision | action | guard
    thread_id       text,
    run_id          text,
    user_id         text,
    agent           text,
    tool            text,
    risk            text,
    decision        text,                   -- approve | edit | reject (kind = decision)
    status          text,                   -- started | done | failed | dry-run (kind = action)
    args            jsonb,
    result          jsonb,
    note            text,
    idempotency_key text
);
-- An approved action runs once and a decision is recorded once, even when a run is resumed
-- twice: both carry an idempotency key derived from the thread and the tool call id.
CREATE UNIQUE INDEX IF NOT EXISTS agentdesk_audit_key
    ON agentdesk_audit (kind, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS agentdesk_audit_thread ON agentdesk_audit (thread_id, at);

SELECT pg_advisory_unlock(716253);

-- API keys (serving/users.py). Only a sha256 of each key is stored; `key_id` is the public
-- part of the key (agd_<key_id>_<secret>) used to find the row without scanning hashes.
SELECT pg_advisory_lock(716254);
CREATE TABLE IF NOT EXISTS agentdesk_api_keys (
    key_id      text PRIMARY KEY,
    user_name   text NOT NULL,
    tenant      text NOT NULL DEFAULT 'default',
    key_hash    text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE INDEX IF NOT EXISTS agentdesk_api_keys_user ON agentdesk_api_keys (user_name);
SELECT pg_advisory_unlock(716254);

-- Per-user rate-limit buckets (serving/rate_limit.py), shared by every server replica.
SELECT pg_advisory_lock(716255);
CREATE TABLE IF NOT EXISTS agentdesk_rate_buckets (
    bucket      text PRIMARY KEY,           -- "<scope>:<user>", e.g. runs:alice
    tokens      double precision NOT NULL,
    updated_at  timestamptz NOT NULL,
    allowed     boolean NOT NULL            -- the outcome of the last take
);
SELECT pg_advisory_unlock(716255);
