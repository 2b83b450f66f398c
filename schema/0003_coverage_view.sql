-- Which accounts the enforcer can act on now: the latest coverage row per (chain, account,
-- signer). Grafana and people query this view; the enforcer writes the coverage table.
CREATE VIEW IF NOT EXISTS coverage_current AS
SELECT
    chain_id,
    account,
    signer,
    argMax(covered, version)    AS covered,
    argMax(checked_at, version) AS checked_at
FROM coverage
GROUP BY chain_id, account, signer;
