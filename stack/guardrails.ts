/**
 * The time limits as one budget (postgres.guardrails, pgbouncer.queryWaitTimeoutSeconds): each
 * related to the others, to PgBouncer's drain and to the latency alerts.
 */
import { durationSeconds } from "../configs/format";
import { IDLE_IN_TRANSACTION_TIMEOUT_SECONDS, type Guardrails } from "../configs/postgres";
import { imageVersion } from "./versions";
import { setCommand as set } from "./commands";
import type { Invariant } from "./invariant";
import type { StackConfig } from "./schema";

const seconds = (d: string) => durationSeconds(d)!;

/** The stack's time limits per role, with the PostgreSQL major version they are written for (postgres.image's tag). */
export function guardrailsOf(postgres: StackConfig["postgres"]): Guardrails {
    return { ...postgres.guardrails, postgresMajor: Number((imageVersion(postgres.image) ?? "0").split(".")[0]) };
}

/** How long a client may wait in PgBouncer's queue: the key when set, else as long as the app's statements may run (a request queued longer has lost its budget). */
export const queryWaitSeconds = (c: StackConfig) => c.pgbouncer.queryWaitTimeoutSeconds ?? Math.ceil(seconds(c.postgres.guardrails.app.statementTimeout));

export const GUARDRAIL_INVARIANTS: Invariant[] = [
    {
        title: "a lock wait ends before the statement's own limit",
        rule: "postgres.guardrails.app.lockTimeout < app.statementTimeout <= app.transactionTimeout: a request stuck behind a lock fails as a lock timeout, and no statement outlives its transaction's limit",
        check(c, ctx) {
            const a = c.postgres.guardrails.app;
            const out = [];
            if (seconds(a.lockTimeout) >= seconds(a.statementTimeout)) out.push({ key: "postgres.guardrails.app.lockTimeout", message: `is ${a.lockTimeout}, not below app.statementTimeout ${a.statementTimeout}: a request waiting for a lock would end as a statement timeout, indistinguishable from a slow query; ${set(ctx, "postgres.guardrails.app.lockTimeout", "100ms")}` });
            if (seconds(a.statementTimeout) > seconds(a.transactionTimeout)) out.push({ key: "postgres.guardrails.app.transactionTimeout", message: `is ${a.transactionTimeout}, below app.statementTimeout ${a.statementTimeout}: raise it to at least that (${set(ctx, "postgres.guardrails.app.transactionTimeout", a.statementTimeout)})` });
            return out;
        },
    },
    {
        title: "an idle transaction ends before PgBouncer's drain does",
        rule: `every role's guardrails.*.idleInTransactionTimeout <= ${IDLE_IN_TRANSACTION_TIMEOUT_SECONDS}s, the server-wide limit PgBouncer's safe shutdown waits out (its grace is that plus 10 s)`,
        check(c, ctx) {
            return (["app", "migrator"] as const)
                .filter((r) => seconds(c.postgres.guardrails[r].idleInTransactionTimeout) > IDLE_IN_TRANSACTION_TIMEOUT_SECONDS)
                .map((r) => ({ key: `postgres.guardrails.${r}.idleInTransactionTimeout`, message: `is ${c.postgres.guardrails[r].idleInTransactionTimeout}, longer than the ${IDLE_IN_TRANSACTION_TIMEOUT_SECONDS}s PgBouncer's safe shutdown waits for: a stopping PgBouncer would cut the transaction; ${set(ctx, `postgres.guardrails.${r}.idleInTransactionTimeout`, `${IDLE_IN_TRANSACTION_TIMEOUT_SECONDS}s`)}` }));
        },
    },
    {
        title: "a migration's lock request holds requests up less than they may run",
        rule: "postgres.guardrails.migrator.lockTimeout <= app.statementTimeout: requests queued behind a migration waiting for its lock wait at most that, then the migration gives up",
        check(c, ctx) {
            const g = c.postgres.guardrails;
            if (seconds(g.migrator.lockTimeout) <= seconds(g.app.statementTimeout)) return [];
            return [{ key: "postgres.guardrails.migrator.lockTimeout", message: `is ${g.migrator.lockTimeout}, longer than app.statementTimeout ${g.app.statementTimeout}: while a migration waits for an ACCESS EXCLUSIVE lock every request on that table queues behind it and would time out first; ${set(ctx, "postgres.guardrails.migrator.lockTimeout", "2s")} (and retry the migration)` }];
        },
    },
    {
        title: "the latency alerts see slow statements before they become errors",
        rule: "postgres.guardrails.app.statementTimeout > alerts.latencyCriticalSeconds: a statement slow enough for VeryHighLatency still completes (and is seen) rather than being cancelled first",
        check(c, ctx) {
            const t = c.postgres.guardrails.app.statementTimeout;
            if (seconds(t) > c.monitoring.alerts.latencyCriticalSeconds) return [];
            return [{ key: "postgres.guardrails.app.statementTimeout", message: `is ${t}, not above alerts.latencyCriticalSeconds ${c.monitoring.alerts.latencyCriticalSeconds}: slow statements would be cancelled before the latency alerts could see them; ${set(ctx, "postgres.guardrails.app.statementTimeout", "5s")}` }];
        },
    },
    {
        title: "a request gives up on a lock before it has missed the latency target",
        rule: "postgres.guardrails.app.lockTimeout <= alerts.latencyP99Seconds: a request still waiting for a lock past the API's p99 target has missed it anyway, while its server connection is one the requests on other tables need (a lock storm's arithmetic: docs/GUARDRAILS.md)",
        check(c, ctx) {
            const a = c.postgres.guardrails.app;
            const target = c.monitoring.alerts.latencyP99Seconds;
            if (seconds(a.lockTimeout) <= target) return [];
            return [{ key: "postgres.guardrails.app.lockTimeout", message: `is ${a.lockTimeout}, longer than alerts.latencyP99Seconds ${target}: requests waiting on a locked table would hold PgBouncer's server connections past the latency target while every other request queues behind them; ${set(ctx, "postgres.guardrails.app.lockTimeout", "100ms")}` }];
        },
    },
    {
        title: "PgBouncer's queue wait fits the same budget",
        rule: "pgbouncer.queryWaitTimeoutSeconds (default: app.statementTimeout) is above app.lockTimeout and at most app.transactionTimeout: a queued request gets an error once waiting cannot help",
        check(c, ctx) {
            const wait = queryWaitSeconds(c);
            const a = c.postgres.guardrails.app;
            if (wait > seconds(a.lockTimeout) && wait <= seconds(a.transactionTimeout)) return [];
            return [{ key: "pgbouncer.queryWaitTimeoutSeconds", message: `is ${wait}, outside app.lockTimeout ${a.lockTimeout} .. app.transactionTimeout ${a.transactionTimeout}: leave it unset (it follows app.statementTimeout) or ${set(ctx, "pgbouncer.queryWaitTimeoutSeconds", Math.ceil(seconds(a.statementTimeout)))}` }];
        },
    },
];
