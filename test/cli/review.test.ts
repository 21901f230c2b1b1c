/**
 * A pull request against the review itself: on a scratch branch of a copy of this repository,
 * every part of the review a pull request can edit is edited to let a floating image tag through
 * (the pin rule in facts/, the policy's level in policy/, the offline runner, the exit code in
 * diff/, scripts/diff.ts, package.json's script), and a stack file takes `:latest`. Reviewed as the
 * workflow reviews it (the base branch's worktree running its diff on the pull request's checkout)
 * the verdict is unchanged: blocked by pinned-images. Reviewed with the pull request's own code it
 * would pass: what the base-branch review holds.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../root";
import { copyWorkingTree } from "../helpers";

let dir: string;
let repo: string;
let review: string;
const git = (cwd: string, ...args: string[]) => execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
const commitAll = (message: string) => {
    git(repo, "add", "-A");
    git(repo, "-c", "user.name=test", "-c", "user.email=test@example.com", "commit", "-q", "-m", message);
};

/** One file of the pull request's checkout, edited; the edit must change it. */
function edit(path: string, change: (text: string) => string): void {
    const file = join(repo, path);
    const before = readFileSync(file, "utf8");
    const after = change(before);
    expect(after, `the edit of ${path} changed nothing`).not.toBe(before);
    writeFileSync(file, after);
}

beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "flowviz-review-test-"));
    repo = join(dir, "pull-request");
    review = join(dir, "review");
    copyWorkingTree(repo);
    git(dir, "init", "-q", "-b", "main", repo);
    commitAll("base");
    // the workflow's review worktree of the base branch; its `npm ci` stands in as the same lockfile's packages
    git(repo, "worktree", "add", "--detach", "--quiet", review, "main");
    symlinkSync(join(ROOT, "node_modules"), join(review, "node_modules"), "dir");

    git(repo, "checkout", "-q", "-b", "pull-request");
    edit("Pulumi.dev.yaml", (t) => t.replace("config:\n", "config:\n  flowviz:app:\n    api:\n      image: ghcr.io/flowviz/api:latest\n"));
    edit("facts/images.ts", (t) => t.replace("export function isPinnedImage(ref: string): boolean {", "export function isPinnedImage(ref: string): boolean {\n    if (ref) return true;"));
    edit("policy/policies.ts", (t) => t.replace(/(name: "pinned-images",\n\s+description: [^\n]+\n\s+enforcementLevel: )"mandatory"/, '$1"advisory"'));
    edit("render/policy-check.ts", (t) => t.replace(/(export async function checkPolicies\([^\n]*\{\n)/, "$1    if (resources) return [];\n"));
    edit("diff/report.ts", (t) => t.replace("export function exitCode(review: Review): number {", "export function exitCode(review: Review): number {\n    if (review) return 0;"));
    edit("scripts/diff.ts", (t) => t.replace("async function main(): Promise<number> {", 'async function main(): Promise<number> {\n    if (process.argv) {\n        console.log("nothing to review");\n        return 0;\n    }'));
    edit("package.json", (t) => t.replace('"diff": "tsx scripts/diff.ts"', '"diff": "echo nothing to review"'));
    commitAll("a pull request that edits its own review");
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("a pull request that edits its own review", () => {
    it("passes its own review: what a review run from the pull request's tree would say", () => {
        const own = spawnSync("npm", ["run", "-s", "diff", "--", "--stack", "dev", "--base", "main"], { cwd: repo, encoding: "utf8" });
        expect(own.status).toBe(0);
        expect(own.stdout).toContain("nothing to review");
    });

    it("is blocked by the base branch's review of its checkout: pinned-images, naming the image", () => {
        // the review's worktree shares the pull request's git directory, and so the renders a diff keeps
        const kept = () => (existsSync(join(repo, ".git/flowviz-diff-cache")) ? readdirSync(join(repo, ".git/flowviz-diff-cache")).sort() : []);
        const before = kept();
        const r = spawnSync("node", ["--import", "tsx", "scripts/diff.ts", "--stack", "dev", "--base", "HEAD", "--head", repo], { cwd: review, encoding: "utf8" });
        expect(r.status, r.stderr).toBe(3);
        expect(r.stdout).toContain(`Infrastructure diff HEAD`);
        expect(r.stdout).toMatch(/pinned-images.*ghcr\.io\/flowviz\/api:latest/);
        // the pull request's program rendered on the review's node_modules
        expect(r.stdout).toContain(`${repo} (`);
        // and nothing kept for a later review to read, nor read back: that render ran the pull request's code
        expect(r.stderr).not.toContain("reused");
        expect(kept()).toEqual(before);
    }, 120_000);

    it("renders nothing of the pull request with a node_modules of its own", () => {
        rmSync(join(repo, "node_modules"), { force: true });
        mkdirSync(join(repo, "node_modules"));
        const r = spawnSync("node", ["--import", "tsx", "scripts/diff.ts", "--stack", "dev", "--base", "HEAD", "--head", repo], { cwd: review, encoding: "utf8" });
        rmSync(join(repo, "node_modules"), { recursive: true, force: true });
        expect(r.status).toBe(1);
        expect(r.stderr).toContain("has node_modules of its own; the review renders its program on this checkout's");
    });
});
