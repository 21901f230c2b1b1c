/** What the runbooks and the diff tell a person to type works against the stack as rendered. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { alertRules } from "../../configs/rules";
import { ON_EACH_PGBOUNCER } from "../../configs/rules/steps";
import { restartMessage } from "../../diff/consequences";
import { maskSecrets, renderedFiles } from "../../render/files";
import type { ProgramRun } from "../../render/program";
import { alertThresholds } from "../../stack/backups";
import { connectionBudget, poolSizing } from "../../stack/capacity";
import { deployedCapacity } from "../../policy/deployed";
import { readStackFile } from "../../render/stackfile";
import { loadStackConfig } from "../../stack/load";
import { StackConfigSchema } from "../../stack/schema";
import { ROOT, runStack } from "../helpers";

const config = (raw: Record<string, unknown> = {}) =>
    loadStackConfig("flowviz", "t", Object.fromEntries(Object.entries({ platform: "docker", ...raw }).map(([k, v]) => [`flowviz:${k}`, typeof v === "string" ? v : JSON.stringify(v)])), () => false).config;

/** Does a dotted key name a key of the stack schema? */
function inSchema(key: string): boolean {
    let node: any = StackConfigSchema;
    for (const part of key.split(".")) {
        node = node?.properties?.[part] ?? node?.anyOf?.find((a: any) => a.properties?.[part])?.properties?.[part];
        if (!node) return false;
    }
    return true;
}

describe("runbook steps", () => {
    const steps = alertRules(alertThresholds(config())).flatMap((a) => a.runbook.map((s) => [a.alert, s] as const));
    const restoreRunbook = readFileSync(join(ROOT, "docs/runbooks/RestoreToPointInTime.md"), "utf8");

    it("name only stack keys that exist", () => {
        const keys = [...steps.map(([, s]) => s), restoreRunbook].flatMap((text) => [...text.matchAll(/\b(?:postgres|pgbouncer|app|monitoring|docker|kubernetes)(?:\.[a-zA-Z]+)+/g)].map((m) => m[0]).filter((k) => !/\.io(\.|$)/.test(k)));
        expect(keys.length).toBeGreaterThan(5);
        expect(keys.filter((k) => !inSchema(k))).toEqual([]);
    });

    it("DatabaseDown starts where a crash-looping pod can be read: logs of the failed run and events, before any exec", () => {
        const first = steps.filter(([a]) => a === "DatabaseDown").map(([, s]) => s);
        const firstExec = first.findIndex((s) => /kubectl -n \S+ exec/.test(s));
        expect(first[0]).toMatch(/logs postgres-0 -c postgres --previous/);
        expect(first[0]).toMatch(/get events --field-selector involvedObject.name=postgres-0/);
        expect(first[0]).not.toMatch(/kubectl -n \S+ exec/);
        expect(firstExec).toBeGreaterThan(0);
        // the pod holds PostgreSQL and pgBackRest's TLS server beside it: every command into it names the container
        for (const [alert, step] of steps) for (const m of step.matchAll(/kubectl -n \S+ (?:exec|logs) postgres-0 (\S+ \S+)/g)) expect(m[1], alert).toMatch(/^-c (postgres|postgres-backup-server)$/);
    });

    it("PgBouncerPoolExhausted raises the key that moves the pool (postgres.resources.cpu), which check accepts", () => {
        const step = steps.filter(([a]) => a === "PgBouncerPoolExhausted").map(([, s]) => s).join(" ");
        expect(step).toContain("postgres.resources.cpu");
        expect(step).not.toContain("cpuCores");
        const before = poolSizing(config()).poolSize;
        expect(poolSizing(config({ postgres: { resources: { cpu: "4", memory: "2Gi" } } })).poolSize).toBeGreaterThan(before);
    });
});

describe("the PgBouncer console command the runbooks and the diff print", () => {
    let run: ProgramRun;
    beforeAll(async () => {
        run = await runStack("Pulumi.dev.yaml", { stack: "dev" });
    });
    const file = (path: string) => String(renderedFiles(run.resources).find((f) => `${f.service}/${f.path}` === path)!.content);

    it("connects where the console answers: its loopback, its port, its admin user, over TLS", () => {
        const conninfo = /psql "([^"]+)"/.exec(ON_EACH_PGBOUNCER("PAUSE flowviz;"))![1]!;
        const opts = Object.fromEntries(conninfo.split(" ").map((kv) => kv.split("=") as [string, string]));
        const ini = file("pgbouncer/pgbouncer.ini");
        expect(opts.port).toBe(/^listen_port = (\d+)$/m.exec(ini)![1]);
        expect(/^admin_users = (.*)$/m.exec(ini)![1]!.split(/,\s*/)).toContain(opts.user);
        expect(opts.dbname).toBe("pgbouncer");
        expect(["require", "verify-ca", "verify-full"]).toContain(opts.sslmode);
        // the console's only door: TLS from the loopback
        const hba = file("pgbouncer/pgbouncer_hba.conf");
        expect(hba).toMatch(new RegExp(`^hostssl\\s+pgbouncer\\s+\\S*${opts.user}\\S*\\s+${opts.host}/32`, "m"));
    });

    it("is the one the diff prints for a PostgreSQL restart", () => {
        const message = restartMessage("postgres", "database", "its pod template changed", "flowviz");
        expect(message).toContain(ON_EACH_PGBOUNCER("PAUSE flowviz;"));
        expect(message).not.toMatch(/psql -p 6432 -U pgbouncer_admin pgbouncer/);
    });
});

describe("check and diff count the same connection budget", () => {
    it.each(["Pulumi.dev.yaml", "Pulumi.prod.yaml", "test/fixtures/good/prod-statefulset.yaml"])("%s: the server connections PostgreSQL leaves PgBouncer", async (file) => {
        const run = await runStack(file, { stack: "budget" });
        const deployed = deployedCapacity(run.resources.map((r) => ({ type: r.type, props: maskSecrets(r.inputs, true) as any })));
        const stack = readStackFile(join(ROOT, file));
        const { config: c } = loadStackConfig("flowviz", "budget", stack.config, (k) => stack.secretKeys.includes(k));
        expect(deployed!.serverAvailable).toBe(connectionBudget(c).serverAvailable.value);
        expect(deployed!.serverConnections).toBe(connectionBudget(c).serverConnections.value);
    });
});
