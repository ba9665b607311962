#!/bin/bash
# A read-only ClickHouse user for BI tools (Superset, Metabase): SELECT on the analytics database
# only, readonly=1 (no writes, no settings changes), limited memory and run time per query. Runs
# once, when the ClickHouse volume is first initialised (docker-entrypoint-initdb.d); see
# docs/analytics.md for changing the password later.
set -euo pipefail
: "${CLICKHOUSE_BI_PASSWORD:?set CLICKHOUSE_BI_PASSWORD for the read-only BI user}"
clickhouse client --user "${CLICKHOUSE_USER}" --password "${CLICKHOUSE_PASSWORD}" --multiquery --query "
CREATE SETTINGS PROFILE IF NOT EXISTS bi_readonly SETTINGS readonly = 1, max_execution_time = 60,
    max_memory_usage = 4000000000, max_result_rows = 1000000;
CREATE USER IF NOT EXISTS ${CLICKHOUSE_BI_USER:-bi} IDENTIFIED WITH sha256_password BY '${CLICKHOUSE_BI_PASSWORD}'
    SETTINGS PROFILE bi_readonly;
GRANT SELECT ON ${CLICKHOUSE_DB}.* TO ${CLICKHOUSE_BI_USER:-bi};
"
