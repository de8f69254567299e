#!/usr/bin/env bash
# The job queue's own cost (issue 16): claim throughput with 8 workers over 10,000 no-op jobs,
# claim/finish/heartbeat latency and the queue wait users see, on PostgreSQL (a throwaway
# cluster with durable commits: fsync and synchronous_commit on, as in production) and on
# SQLite; beside it the peer, pgbench running the bare `FOR UPDATE SKIP LOCKED` claim + finish
# of ../shared/docs/scale-out.md §2.1 with 8 clients on the same cluster.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
jobs="${JOBS:-10000}"
workers="${WORKERS:-8}"
cargo build --release -q -p hone-bench
bin=$(ls -d /usr/lib/postgresql/*/bin | sort | tail -1)
base=$(mktemp -d /tmp/hone-queue-bench.XXXX)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres:postgres "$base"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
as_pg "$bin/initdb" -D "$base/data" -A trust -U hone -E UTF8 >/dev/null
as_pg "$bin/pg_ctl" -D "$base/data" -o "-p $port -k $base -c listen_addresses=127.0.0.1 -c max_connections=200" -l "$base/log" -w start >/dev/null
trap 'as_pg "$bin/pg_ctl" -D "$base/data" -m immediate stop >/dev/null; rm -rf "$base"' EXIT
uri="postgresql://hone@127.0.0.1:$port/postgres"
echo "== hone queue on PostgreSQL $("$bin/postgres" --version | awk '{print $3}') (durable commits)"
target/release/hone-bench queue-claim "$uri" "$jobs" "$workers"
echo "== peer: pgbench, bare SKIP LOCKED claim + finish (scale-out.md §2.1), $workers clients, $jobs jobs"
"$bin/psql" -q -h 127.0.0.1 -p "$port" -U hone -d postgres <<SQL
CREATE TABLE bench_jobs (id bigserial PRIMARY KEY, status text NOT NULL, payload jsonb,
  attempts int NOT NULL DEFAULT 0, locked_by text, locked_at timestamptz,
  heartbeat_at timestamptz, finished_at timestamptz);
CREATE INDEX ON bench_jobs (id) WHERE status = 'queued';
INSERT INTO bench_jobs (status, payload) SELECT 'queued', '{}' FROM generate_series(1, $jobs);
SQL
cat > "$base/claim.sql" <<'SQL'
WITH c AS (SELECT id FROM bench_jobs WHERE status='queued' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
UPDATE bench_jobs j SET status='running', attempts=attempts+1, locked_by='w'||:client_id,
       locked_at=now(), heartbeat_at=now() FROM c WHERE j.id=c.id RETURNING j.id AS jid \gset
UPDATE bench_jobs SET status='done', finished_at=now() WHERE id=:jid;
SQL
"$bin/pgbench" -n -h 127.0.0.1 -p "$port" -U hone -c "$workers" -j 2 -t $((jobs / workers)) -f "$base/claim.sql" postgres 2>&1 | grep -E "tps|latency average"
echo "== hone queue on SQLite (WAL, one file)"
target/release/hone-bench queue-claim "sqlite://$base/queue.db" "$jobs" "$workers"
