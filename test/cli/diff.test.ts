/**
 * `npm run diff` as a reviewer uses it: changes made on scratch branches of a copy of
 * this repository, each diffed against main, with the action, exit code and
 * consequence a reviewer must see.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { markdownReport, MARKDOWN_LIMIT, type Review } from "../../diff/report";
import { ROOT } from "../root";
import { copyWorkingTree } from "../helpers";

let repo: string;
const git = (...args: string[]) => execFileSync("git", args, { cwd: repo, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
const commitAll = (message: string) => {
    git("add", "-A");
    git("-c", "user.name=test", "-c", "user.email=test@example.com", "commit", "-q", "--allow-empty", "-m", message);
};

beforeAll(() => {
    // A copy of the working tree (tracked and new files) as a fresh repository with one commit on main.
    repo = mkdtempSync(join(tmpdir(), "flowviz-diff-test-"));
    copyWorkingTree(repo);
    symlinkSync(join(ROOT, "node_modules"), join(repo, "node_modules"), "dir");
    writeFileSync(join(repo, ".gitignore"), "node_modules\n");
    // prod's other engine as a stack of its own: the StatefulSet's changes are what a cluster without operators reviews
    cpSync(join(ROOT, "test/fixtures/good/prod-statefulset.yaml"), join(repo, "Pulumi.prod-sts.yaml"));
    git("init", "-q", "-b", "main");
    commitAll("base");
});
afterAll(() => rmSync(repo, { recursive: true, force: true }));

const diff = (args: string[]) => {
    const r = spawnSync("node", ["--import", "tsx", "scripts/diff.ts", ...args], { cwd: repo, encoding: "utf8" });
    return { code: r.status, out: r.stdout, err: r.stderr };
};

/** Applies an edit to a stack file on a new branch, commits it, diffs the branch against main. */
function onBranch(branch: string, file: string, edit: (text: string) => string, args: string[], from = "main") {
    git("checkout", "-q", "-B", branch, from);
    const path = join(repo, file);
    const before = readFileSync(path, "utf8");
    const after = edit(before);
    expect(after, "the edit changed nothing").not.toBe(before);
    writeFileSync(path, after);
    commitAll(branch);
    const result = diff([...args, "--base", from]);
    git("checkout", "-q", "main");
    return result;
}

const setUnder = (section: string, line: string) => (text: string) => text.replace(`  flowviz:${section}:\n`, `  flowviz:${section}:\n    ${line}\n`);

describe("npm run diff on scratch branches", () => {
    it("says there is nothing to do and exits 0, twice in a row, replacing its own report and leaving no checkout behind", () => {
        const notes = join(repo, "notes.md");
        writeFileSync(notes, "my notes\n");
        const refused = diff(["--stack", "prod", "--out", notes]);
        expect(refused.code).toBe(1);
        expect(refused.err).toContain("exists and is not an earlier diff report");
        expect(readFileSync(notes, "utf8")).toBe("my notes\n");
        const report = join(repo, "review.txt");
        for (let i = 0; i < 2; i++) {
            const r = diff(["--stack", "prod", "--out", report]);
            expect(r.code, r.err).toBe(0);
            expect(readFileSync(report, "utf8")).toContain("== prod: 0 to create, 0 to update, 0 to replace, 0 to delete");
        }
        expect(git("worktree", "list").split("\n")).toHaveLength(1);
        rmSync(notes);
        rmSync(report);
    });

    let poolReport = "";
    it("a pool change: PgBouncer's config replaced, PgBouncer restarts, capacity before -> after, exit 2", () => {
        const r = onBranch("pool", "Pulumi.prod.yaml", setUnder("pgbouncer", "defaultPoolSize: 20"), ["--stack", "prod"]);
        expect(r.code, r.err).toBe(2);
        expect(r.out).toContain("replace kubernetes:core/v1:ConfigMap pgbouncer-config");
        // the workload that mounts it is counted: deployed, the ConfigMap has a new name and the pods roll
        expect(r.out).toContain("== prod: 0 to create, 1 to update, 1 to replace, 0 to delete");
        expect(r.out).toContain("update  kubernetes:apps/v1:StatefulSet pgbouncer");
        expect(r.out).toContain("RESTART PgBouncer restarts (it mounts replaced configuration");
        expect(r.out).toContain("PgBouncer pool per replica: 16 + reserve 4 -> 20 + reserve 5  (changed)");
        expect(r.out).toContain("server connections / available: 40 / 186 (max_connections 200) -> 50 / 186 (max_connections 200)  (changed)");
        expect(r.out).toMatch(/-default_pool_size = 16\n\s+\+default_pool_size = 20/);
        poolReport = r.out;
    });

    it("an effectiveCacheSize change: PostgreSQL's config replaced, so its only pod restarts; says how to fail no transaction", () => {
        const r = onBranch("cache", "Pulumi.prod-sts.yaml", (t) => t.replace("effectiveCacheSize: 6Gi", "effectiveCacheSize: 5Gi"), ["--stack", "prod-sts"]);
        expect(r.code, r.err).toBe(2);
        expect(r.out).toContain("replace kubernetes:core/v1:ConfigMap postgres-config");
        expect(r.out).toContain("RESTART PostgreSQL restarts (it mounts replaced configuration");
        expect(r.out).toContain("PAUSE flowviz;");
        expect(r.out).toContain("RESUME flowviz;");
    });

    it("a workMem change also resizes PostgreSQL's /dev/shm: the pod template changes with the config", () => {
        const r = onBranch("workmem", "Pulumi.prod-sts.yaml", setUnder("postgres", "workMem: 16Mi"), ["--stack", "prod-sts"]);
        expect(r.code, r.err).toBe(2);
        expect(r.out).toContain("replace kubernetes:core/v1:ConfigMap postgres-config");
        expect(r.out).toContain('spec.template.spec.volumes[shm].emptyDir.sizeLimit: "272Mi" -> "416Mi"');
        expect(r.out).toContain("RESTART PostgreSQL restarts");
    });

    it("growing a volume updates the claim in place; shrinking it is blocked (exit 3)", () => {
        const grow = onBranch("grow", "Pulumi.prod-sts.yaml", (t) => t.replace("storageSize: 100Gi", "storageSize: 200Gi"), ["--stack", "prod-sts"]);
        expect(grow.code, grow.err).toBe(2);
        expect(grow.out).toContain('spec.resources.requests.storage: "100Gi" -> "200Gi"');
        expect(grow.out).not.toContain("BLOCKED");
        const shrink = onBranch("shrink", "Pulumi.prod-sts.yaml", (t) => t.replace("storageSize: 100Gi", "storageSize: 50Gi"), ["--stack", "prod-sts"]);
        expect(shrink.code, shrink.err).toBe(3);
        expect(shrink.out).toContain("BLOCKED kubernetes:core/v1:PersistentVolumeClaim::postgres-data: PersistentVolumeClaim postgres-data would shrink from 100Gi to 50Gi");
    });

    it("renaming the namespace is blocked: it would replace the protected namespace and move every claim", () => {
        const r = onBranch("rename", "Pulumi.prod.yaml", (t) => t.replace("namespace: flowviz", "namespace: flowviz-prod"), ["--stack", "prod"]);
        expect(r.code, r.err).toBe(3);
        expect(r.out).toContain("Namespace kubernetes-namespace (metadata.name flowviz -> flowviz-prod) is protected");
        expect(r.out).toContain("BLOCKED kubernetes:postgresql.cnpg.io/v1:Cluster::postgres: Cluster postgres (metadata.namespace flowviz -> flowviz-prod) is protected");
        expect(r.out).toContain("Moving a claim to another namespace gives an empty claim there");
    });

    it("a PostgreSQL major upgrade of the image is blocked and names pg_upgrade", () => {
        // the image that runs is the pgBackRest one built on postgres.image: an upgrade changes both
        const upgrade = (v: string) => (t: string) => setUnder("postgres", `image: postgres:${v}-trixie`)(t).replace(/postgres-pgbackrest:17\.12-trixie/, `postgres-pgbackrest:${v}-trixie`);
        const r = onBranch("major", "Pulumi.prod-sts.yaml", upgrade("18.1"), ["--stack", "prod-sts"]);
        expect(r.code, r.err).toBe(3);
        const blocked = r.out.split("\n").filter((l) => l.includes("BLOCKED"));
        expect(blocked).toEqual([expect.stringContaining("PostgreSQL 17 -> 18: a major version cannot start on the data directory of another; upgrade with pg_upgrade")]);
        const minor = onBranch("minor", "Pulumi.prod-sts.yaml", upgrade("17.13"), ["--stack", "prod-sts"]);
        expect(minor.code, minor.err).toBe(2);
        expect(minor.out).toContain("RESTART PostgreSQL restarts (its pod template changed");
    });

    it("a restore: refused unless the stack says replaceData; then a new volume, the old one kept, PostgreSQL restarting on it", () => {
        const restore = (confirm: boolean) => (t: string) =>
            t.replace("config:\n", `config:\n  flowviz:postgres:\n    restore:\n      id: recall-1\n      target: "2026-12-04T10:15:00Z"\n      replaceData: ${confirm}\n`);
        const refused = onBranch("restore-unconfirmed", "Pulumi.dev.yaml", restore(false), ["--stack", "dev"]);
        expect(refused.code).toBe(1);
        expect(refused.err).toContain("flowviz:postgres.restore.replaceData: is false");
        const r = onBranch("restore", "Pulumi.dev.yaml", restore(true), ["--stack", "dev"]);
        expect(r.code, r.err).toBe(2);
        expect(r.out).toMatch(/create\s+docker:index\/volume:Volume postgres-data-recall-1 \(protected\)/);
        expect(r.out).toContain("RESTORE postgres starts on a new volume postgres-data-recall-1");
        expect(r.out).not.toMatch(/delete docker:index\/volume:Volume postgres-data\b/);
        expect(r.out).toContain("RESTART");
    });

    it("a second restore keeps the first one's volume when the stack lists it in previous, and is blocked, saying so, when it does not", () => {
        const restoreAs = (id: string, previous: string[]) => (t: string) =>
            t.replace("config:\n", `config:\n  flowviz:postgres:\n    restore:\n      id: ${id}\n      target: "2026-12-04T10:15:00Z"\n      replaceData: true\n      previous: [${previous.join(", ")}]\n`);
        git("checkout", "-q", "-B", "restored-base", "main");
        writeFileSync(join(repo, "Pulumi.dev.yaml"), restoreAs("recall-1", [])(readFileSync(join(repo, "Pulumi.dev.yaml"), "utf8")));
        commitAll("first restore");
        const forgot = onBranch("restore-forgot", "Pulumi.dev.yaml", (t) => t.replace("id: recall-1", "id: recall-2"), ["--stack", "dev"], "restored-base");
        expect(forgot.code, forgot.err).toBe(3);
        expect(forgot.out).toMatch(/Volume postgres-data-recall-1 is protected: it holds data and would be deleted/);
        expect(forgot.out).toContain("keep it by listing recall-1 in postgres.restore.previous");
        const kept = onBranch("restore-again", "Pulumi.dev.yaml", (t) => t.replace("id: recall-1", "id: recall-2").replace("previous: []", "previous: [recall-1]"), ["--stack", "dev"], "restored-base");
        expect(kept.code, kept.err).toBe(2);
        expect(kept.out).toMatch(/create\s+docker:index\/volume:Volume postgres-data-recall-2 \(protected\)/);
        expect(kept.out).not.toMatch(/delete\s+docker:index\/volume:Volume postgres-data/);
        expect(kept.out).toContain("RESTORE postgres starts on a new volume postgres-data-recall-2");
        git("checkout", "-q", "main");
    });

    it("a dev host port: the container is replaced (Docker cannot change ports in place) and restarts", () => {
        const r = onBranch("port", "Pulumi.dev.yaml", (t) => t.replace("grafana: 3001", "grafana: 3002"), ["--stack", "dev"]);
        expect(r.code, r.err).toBe(2);
        expect(r.out).toContain("replace docker:index/container:Container grafana-container");
        expect(r.out).toContain("ports[0].external: 3001 -> 3002  [replaces: Docker cannot change ports of an existing container]");
        expect(r.out).toContain("RESTART grafana restarts (its container is replaced: ports changed)");
    });

    it("a changed secure: value reads 'changed (secret)' and no secret or stand-in appears, in every format", () => {
        git("checkout", "-q", "-B", "secret-base", "main");
        writeFileSync(join(repo, "Pulumi.prod.yaml"), readFileSync(join(repo, "Pulumi.prod.yaml"), "utf8") + "  flowviz:appDbPassword:\n    secure: v1:AAAAbaseciphertext\n");
        commitAll("secret base");
        const r = onBranch("secret-head", "Pulumi.prod.yaml", (t) => t.replace("v1:AAAAbaseciphertext", "v1:BBBBheadciphertext"), ["--stack", "prod", "--format", "markdown"], "secret-base");
        git("checkout", "-q", "secret-head");
        const json = diff(["--stack", "prod", "--format", "json", "--base", "secret-base"]);
        const text = diff(["--stack", "prod", "--base", "secret-base"]);
        git("checkout", "-q", "main");
        for (const out of [r, json, text]) {
            expect(out.code, out.err).toBe(2);
            expect(out.out).not.toMatch(/render-stand-in|ciphertext|SCRAM-SHA-256\$/);
        }
        expect(text.out).toContain("changed (secret)");
        expect(r.out).toContain("changed (secret)");
        expect(r.out.startsWith("<!-- flowviz-infra-diff -->")).toBe(true);
        expect(JSON.parse(json.out).exitCode).toBe(2);
    });

    it("is deterministic: the same inputs give a byte-identical report", () => {
        git("checkout", "-q", "pool");
        const again = diff(["--stack", "prod", "--base", "main"]);
        git("checkout", "-q", "main");
        expect(again.code).toBe(2);
        expect(poolReport).not.toBe("");
        expect(again.out).toBe(poolReport);
    });

    it("errors (exit 1) with a message and no stack trace: unknown ref, unknown stack, a stack that does not render", () => {
        const ref = diff(["--stack", "prod", "--base", "no-such-branch"]);
        expect(ref.code).toBe(1);
        expect(ref.err).toContain("--base no-such-branch: no such commit, branch or tag");
        const stack = diff(["--stack", "nope"]);
        expect(stack.code).toBe(1);
        expect(stack.err).toContain("--stack nope: no Pulumi.nope.yaml in the working tree");
        const bad = onBranch("bad", "Pulumi.prod.yaml", (t) => t.replace("maxConnections: 200", "maxConnections: 5"), ["--stack", "prod"]);
        expect(bad.code).toBe(1);
        expect(bad.err).toContain("prod in the working tree does not render");
        expect(bad.err).toContain("flowviz:postgres.maxConnections is 5: must be >= 20");
        expect(bad.err).not.toMatch(/\n\s+at /);
        expect(diff([]).code).toBe(1);
    });
});

describe("the Markdown report", () => {
    it(`stays under ${MARKDOWN_LIMIT} characters, keeps the summary and blocked items, and says what it left out`, () => {
        const big = "x".repeat(5000);
        const review: Review = {
            base: "main",
            head: "branch",
            stacks: [
                {
                    stack: "prod",
                    unchanged: 0,
                    changes: Array.from({ length: 40 }, (_, i) => ({
                        key: `k${i}`,
                        type: "kubernetes:core/v1:ConfigMap",
                        name: `cm-${i}`,
                        action: "update" as const,
                        protect: false,
                        deleteBeforeReplace: false,
                        changes: [{ path: "data.x", before: "a", after: "b", secret: false }],
                    })),
                    files: Array.from({ length: 30 }, (_, i) => ({ file: `svc/file-${i}.conf`, action: "update" as const, secret: false, patch: `@@ -1 +1 @@\n-${big}\n+${big}\n` })),
                    outputs: [],
                    findings: [{ kind: "blocked", resource: "kubernetes:core/v1:PersistentVolumeClaim::postgres-data", message: "would shrink" }],
                    capacity: [],
                    policy: [],
                },
            ],
        };
        const md = markdownReport(review);
        expect(md.length).toBeLessThanOrEqual(MARKDOWN_LIMIT + 1);
        expect(md).toContain("#### Blocked");
        expect(md).toContain("would shrink");
        expect(md).toMatch(/_\d+ detail block\(s\) left out to stay under GitHub's 65,536-character comment limit/);
        expect(md).toContain("cm-0");
    });
});
