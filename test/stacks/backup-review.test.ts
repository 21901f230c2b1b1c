/**
 * What a backup change touches, as `npm run diff` reads it: the schedules and retention live in
 * the backup runs alone (CronJobs on Kubernetes, the loop container on Docker), so changing
 * them never restarts PostgreSQL.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { compareResources, type Snapshot } from "../../diff/compare";
import { findings } from "../../diff/consequences";
import { ROOT, runStack } from "../helpers";

describe("npm run diff on backup settings", () => {
    it.each([
        ["test/fixtures/good/prod-statefulset.yaml", "kubernetes:apps/v1:StatefulSet", "postgres"],
        ["Pulumi.dev.yaml", "docker:index/container:Container", "postgres-container"],
    ])("%s: schedules and retention change only the backup runs, never PostgreSQL", async (stack, type, database) => {
        const pg = parse(readFileSync(join(ROOT, stack), "utf8")).config["flowviz:postgres"] ?? {};
        const base = await runStack(stack, { stack: "review" });
        const backups = { ...pg.backups, schedule: { full: "0 2 * * 6", diff: "0 2 * * 0-5", verify: "0 4 * * *", walCheck: "*/5 * * * *" }, retention: { full: 3, diff: 12, recoveryWindowDays: 14 } };
        const head = await runStack(stack, { stack: "review", override: { postgres: { ...pg, backups } } });
        const changes = compareResources(base.resources, head.resources).changes;
        const changed = changes.map((c) => `${c.type}::${c.name}`);
        // something did change: the runs
        expect(changed.some((c) => c.includes("postgres-backup"))).toBe(true);
        expect(changed).not.toContain(`${type}::${database}`);
        // nor anything PostgreSQL's pod mounts (its ConfigMap and Secret, or its container's uploads)
        expect(changed.filter((c) => /::postgres-(config|secret)$/.test(c))).toEqual([]);
        expect(findings(changes, { resources: head.resources } as Snapshot).filter((f) => f.kind === "restart" && f.message.includes("PostgreSQL"))).toEqual([]);
    });
});
