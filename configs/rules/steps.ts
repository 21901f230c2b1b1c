/** Runbook steps several alerts share. */
/** Where the stack runs by default; runbooks name it so their commands work as written (`-n <yours>` otherwise). */
export const NS = "flowviz";
/** The admin console of every PgBouncer replica (each pools on its own), then a command on each. */
export const ON_EACH_PGBOUNCER = (sql: string) =>
    `on every PgBouncer replica: \`kubectl -n ${NS} get pods -l app.kubernetes.io/name=pgbouncer\`, then per pod \`kubectl -n ${NS} port-forward pod/<pod> 6432\` and \`psql "host=127.0.0.1 port=6432 user=pgbouncer_admin dbname=pgbouncer sslmode=require" -c '${sql}'\` (the console answers only on PgBouncer's own loopback; Docker: \`docker run --rm -it --network container:flowviz-<stack>-pgbouncer <postgres.image> psql "host=127.0.0.1 port=6432 ..."\`)`;
export const PLANNED_RESTART = `For a planned restart: ${ON_EACH_PGBOUNCER("PAUSE flowviz;")} first, restart, then \`RESUME flowviz;\` on each: clients wait instead of failing (measured: 0 failed transactions, 0 reconnects).`;
export const CHECK_DB = [
    `Check PgBouncer: Grafana > Infrastructure > PgBouncer pools (waiting clients, max wait), or ${ON_EACH_PGBOUNCER("SHOW POOLS;")}.`,
    `Verify PostgreSQL answers: \`kubectl -n ${NS} exec postgres-0 -c postgres -- pg_isready -h 127.0.0.1\` (Docker: \`docker exec flowviz-<stack>-postgres pg_isready -h 127.0.0.1\`).`,
    `Look for long-running queries (PostgreSQL is up; the superuser over the local socket, its password from the file the pod mounts): \`kubectl -n ${NS} exec postgres-0 -c postgres -- sh -c 'PGPASSWORD="$(cat /etc/postgresql/secrets/password)" psql -U postgres -d flowviz -c "SELECT pid, now() - xact_start, state, query FROM pg_stat_activity ORDER BY 2 DESC NULLS LAST"'\`.`,
];
export const ERROR_PLAYBOOK = [
    "Open Grafana > Application > Error ratio to confirm the rate and when it started.",
    "Find the affected endpoints in the Top erroring endpoints panel.",
    "Check recent deployments (`pulumi stack history`, the app's release log) and roll back if one lines up.",
    "Review the API logs for stack traces around the start time.",
    "Escalate to the on-call engineer if unresolved in 15 minutes.",
];
