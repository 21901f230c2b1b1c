/**
 * `npm run diff` as a reviewer uses it: changes made on scratch branches of a copy of
 * this repository, each diffed against main, with the action, exit code and
 * consequence a reviewer must see. (Data-moving and secret changes: diff-data.test.ts.)
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { markdownReport, MARKDOWN_LIMIT, type Review } from "../../diff/report";
import { scratchRepo } from "./scratch-repo";

const { repo, git, diff, onBranch, setUnder } = scratchRepo();

describe("npm run diff on scratch branches", () => {
    it("says there is nothing to do and exits 0, twice in a row, replacing its own report and leaving no checkout behind", () => {
        // outside the repository: files left in it would make every head a working tree with uncommitted changes
        const outside = mkdtempSync(join(tmpdir(), "flowviz-diff-reports-"));
        const notes = join(outside, "notes.md");
        writeFileSync(notes, "my notes\n");
        const refused = diff(["--stack", "prod", "--out", notes]);
        expect(refused.code).toBe(1);
        expect(refused.err).toContain("exists and is not an earlier diff report");
        expect(readFileSync(notes, "utf8")).toBe("my notes\n");
        const report = join(outside, "review.txt");
        for (let i = 0; i < 2; i++) {
            const r = diff(["--stack", "prod", "--out", report]);
            expect(r.code, r.err).toBe(0);
            // a clean working tree at the base: one render serves both sides (kept, and read back the second time)
            expect(r.err).toContain(i === 0 ? "diff: prod in the working tree: the same files as the base, rendered once" : "the render of the same files reused");
            expect(readFileSync(report, "utf8")).toContain("== prod: 0 to create, 0 to update, 0 to replace, 0 to delete");
        }
        expect(git("worktree", "list").split("\n")).toHaveLength(1);
        rmSync(outside, { recursive: true });
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

    it("is deterministic: the same inputs give a byte-identical report, rendered again", () => {
        rmSync(join(repo(), ".git/flowviz-diff-cache"), { recursive: true, force: true });
        git("checkout", "-q", "pool");
        const again = diff(["--stack", "prod", "--base", "main"]);
        git("checkout", "-q", "main");
        expect(again.code).toBe(2);
        expect(again.err).not.toContain("reused");
        expect(poolReport).not.toBe("");
        expect(again.out).toBe(poolReport);
    });

    it("reads a clean checkout's render back while nothing it depends on changes, and renders again when the renderer or the checkout does", () => {
        git("checkout", "-q", "pool");
        try {
            const kept = diff(["--stack", "prod", "--base", "main"]);
            expect(kept.err).toContain("diff: prod in main (");
            expect(kept.err).toContain("diff: prod in the working tree: the render of the same files reused");
            expect(kept.out).toBe(poolReport);
            // the renderer's own file changed (the base's render ran it): both sides again, the same report
            const renderer = join(repo(), "render/files.ts");
            writeFileSync(renderer, readFileSync(renderer, "utf8") + "// edited\n");
            const edited = diff(["--stack", "prod", "--base", "main"]);
            expect(edited.err).not.toContain("reused");
            expect(edited.out.replace(", with uncommitted changes", "")).toBe(poolReport);
        } finally {
            git("checkout", "-q", "--", "render/files.ts");
            git("checkout", "-q", "main");
        }
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
