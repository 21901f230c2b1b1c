/**
 * A scratch repository for `npm run diff` as a reviewer uses it: a copy of the working tree (tracked and new files) as a
 * fresh repository with one commit on main (and prod's StatefulSet engine as a stack of its own, `prod-sts`), made before
 * the file's tests and removed after; changes go on branches of it and are diffed against main.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect } from "vitest";
import { ROOT } from "../root";
import { copyWorkingTree } from "../helpers";

export function scratchRepo() {
    let repo = "";
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
    return { repo: () => repo, git, commitAll, diff, onBranch, setUnder };
}
