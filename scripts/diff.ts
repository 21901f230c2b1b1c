/**
 * Review a change before the cluster does: renders the base ref (default: the merge base
 * with main) in a temporary checkout and the working tree (or another checkout, `--head`),
 * offline, and reports what the change creates, updates, replaces or deletes, what restarts,
 * what it blocks, capacity before and after, and the policy pack's verdict. Each render runs in
 * a process of its own; the comparison, the pack and the verdict are this checkout's code: run
 * from the base branch with `--head <the pull request's checkout>`, nothing the pull request
 * edits decides the verdict (its program renders on this checkout's node_modules). Without --head, a clean checkout's render
 * is kept in the repository's git directory and read back while nothing it depends on changes (diff/snapshot-cache.ts).
 *
 *   npm run diff -- --stack prod [--stack dev] [--base <git-ref>] [--head <dir>] [--format text|markdown|json] [--out FILE]
 *
 * Exit status: 0 no changes, 2 changes, 3 blocked (data loss, a server that cannot start,
 * a mandatory policy), 1 error.
 */
import { execFileSync, fork } from "node:child_process";
import { parseCli } from "./cli";
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { checkPolicies } from "../render/policy-check";
import { compareFiles, compareOutputs, compareResources, type Snapshot } from "../diff/compare";
import { SnapshotCache } from "../diff/snapshot-cache";
import { capacity, findings } from "../diff/consequences";
import { COMMENT_MARKER, REPORT_ID, exitCode, jsonReport, markdownReport, textReport, type Review, type StackDiff } from "../diff/report";

class UsageError extends Error {}

const git = (cwd: string, ...args: string[]) => execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();

function resolveBase(root: string, ref: string | undefined): { sha: string; label: string } {
    const candidates = ref ? [ref] : ["main", "origin/main"];
    for (const c of candidates) {
        try {
            const target = ref ? c : git(root, "merge-base", "HEAD", c);
            return { sha: git(root, "rev-parse", "--verify", "--quiet", `${target}^{commit}`), label: ref ?? `merge base with ${c}` };
        } catch {
            // try the next candidate
        }
    }
    throw new UsageError(ref ? `--base ${ref}: no such commit, branch or tag` : "no main branch to diff against: pass --base <git-ref>");
}

/** A checkout's render of a stack; `kept`: where the cache keeps it (a clean checkout, without --head). */
function snapshot(root: string, checkout: string, stack: string, side: string, kept?: { cache: SnapshotCache; file: string }): Promise<Snapshot | undefined> {
    const stackFile = join(checkout, `Pulumi.${stack}.yaml`);
    if (!existsSync(stackFile)) return Promise.resolve(undefined);
    const reused = kept?.cache.get(kept.file);
    if (reused) {
        console.error(`diff: ${stack} in ${side}: the render of the same files reused (${kept!.cache.dir})`);
        return Promise.resolve(reused);
    }
    return new Promise((done, fail) => {
        const child = fork(join(root, "scripts/snapshot.ts"), ["--program", join(checkout, "index.ts"), "--config-file", stackFile, "--stack", stack], {
            cwd: checkout,
            execArgv: ["--import", "tsx"],
            stdio: ["ignore", "ignore", "pipe", "ipc"],
        });
        let stderr = "";
        let answered = false;
        child.stderr!.on("data", (d) => (stderr += String(d)));
        child.on("message", (m: { ok: boolean; snapshot?: Snapshot; loaded?: string[]; error?: string }) => {
            answered = true;
            if (!m.ok) return fail(new Error(m.error));
            kept?.cache.put(kept.file, checkout, m.snapshot!, m.loaded ?? []);
            done(m.snapshot);
        });
        child.on("exit", (code) => {
            if (!answered) fail(new Error(`the render exited with ${code}: ${stderr.trim().split("\n").slice(-3).join(" ")}`));
        });
    });
}

const EMPTY: Snapshot = { resources: [], outputs: {}, secretOutputs: [], files: [] };

async function stackDiff(stack: string, base: Snapshot | undefined, head: Snapshot): Promise<StackDiff> {
    const b = base ?? EMPTY;
    const { changes, unchanged } = compareResources(b.resources, head.resources);
    return {
        stack,
        changes,
        unchanged,
        files: compareFiles(b.files, head.files),
        outputs: compareOutputs(b, head),
        findings: findings(changes, head),
        capacity: capacity(b, head),
        policy: await checkPolicies(head.resources),
    };
}

/**
 * The checkout `--head` names, its program to run on this checkout's node_modules: one Pulumi
 * runtime for the mocks and the program, and no dependency of the head's choosing.
 */
function headCheckout(root: string, dir: string): string {
    if (!existsSync(join(dir, "index.ts"))) throw new UsageError(`--head ${dir}: no program (index.ts) there`);
    const modules = join(dir, "node_modules");
    if (!existsSync(modules)) symlinkSync(join(root, "node_modules"), modules, "dir");
    else if (realpathSync(modules) !== realpathSync(join(root, "node_modules"))) throw new UsageError(`--head ${dir}: has node_modules of its own; the review renders its program on this checkout's (remove them)`);
    return git(dir, "rev-parse", "--show-toplevel");
}

/** A report file may replace only an earlier report. */
function checkOutFile(path: string): void {
    if (!existsSync(path)) return;
    if (statSync(path).isDirectory()) throw new UsageError(`--out ${path}: is a directory`);
    const start = readFileSync(path, "utf8").slice(0, 200);
    if (!(start.startsWith(COMMENT_MARKER) || start.startsWith("Infrastructure diff") || start.includes(`"report": "${REPORT_ID}"`))) {
        throw new UsageError(`--out ${path}: exists and is not an earlier diff report; nothing was overwritten`);
    }
}

async function main(): Promise<number> {
    const usage = "usage: npm run diff -- --stack <name> [--stack <name>] [--base <git-ref>] [--head <dir>] [--format text|markdown|json] [--out FILE]\n" +
        "  Renders --base (default: the merge base with main) and the working tree (or --head) offline and reports what would be\n" +
        "  created, updated, replaced or deleted, what restarts, what is blocked, and the policy pack's verdict.\n" +
        "  Exit 0: no changes; 2: changes; 3: blocked; 1: error.";
    const values = parseCli({ stack: { type: "string", multiple: true }, base: { type: "string" }, head: { type: "string" }, format: { type: "string", default: "text" }, out: { type: "string" } }, usage, 1);
    const stacks = values.stack ?? [];
    if (stacks.length === 0) throw new UsageError(usage);
    if (!["text", "markdown", "json"].includes(values.format!)) throw new UsageError(`--format ${values.format}: must be text, markdown or json`);
    const root = git(process.cwd(), "rev-parse", "--show-toplevel");
    const head = values.head ? headCheckout(root, resolve(values.head)) : root;
    for (const s of stacks) if (!existsSync(join(head, `Pulumi.${s}.yaml`))) throw new UsageError(`--stack ${s}: no Pulumi.${s}.yaml in ${values.head ? values.head : "the working tree"}`);
    if (values.out) checkOutFile(resolve(values.out));
    const base = resolveBase(root, values.base);

    const checkout = mkdtempSync(join(tmpdir(), "flowviz-diff-"));
    const cleanup = () => {
        try {
            git(root, "worktree", "remove", "--force", checkout);
        } catch {
            rmSync(checkout, { recursive: true, force: true });
            git(root, "worktree", "prune");
        }
    };
    process.once("SIGINT", () => {
        cleanup();
        process.exit(130);
    });
    try {
        git(root, "worktree", "add", "--detach", "--quiet", checkout, base.sha);
        symlinkSync(join(root, "node_modules"), join(checkout, "node_modules"), "dir");
        // not with --head: another checkout's program runs in its render, and must not write what a later review reads
        const cache = values.head ? undefined : new SnapshotCache(root);
        // a clean working tree at the base (a push to main) is the same render twice: made once
        const started = new Map<string, Promise<Snapshot | undefined>>();
        const render = (at: string, s: string, side: string) => {
            const file = cache?.file(at, s);
            const same = file ? started.get(file) : undefined;
            if (same) {
                console.error(`diff: ${s} in ${side}: the same files as the base, rendered once`);
                return same;
            }
            const run = snapshot(root, at, s, side, cache && file ? { cache, file } : undefined);
            if (file) started.set(file, run);
            return run;
        };
        const renders = await Promise.all(
            stacks.flatMap((s) => [
                render(checkout, s, `${base.label} (${base.sha.slice(0, 8)})`).catch((e: Error) => Promise.reject(new UsageError(`${s} at ${base.label} (${base.sha.slice(0, 8)}) does not render: ${e.message}`))),
                render(head, s, values.head ?? "the working tree").catch((e: Error) => Promise.reject(new UsageError(`${s} in ${values.head ?? "the working tree"} does not render: ${e.message}`))),
            ]),
        );
        const review: Review = {
            base: `${base.label} (${base.sha.slice(0, 8)})`,
            head: `${values.head ? values.head : "working tree"} (${git(head, "rev-parse", "--short=8", "HEAD")}${git(head, "status", "--porcelain") ? ", with uncommitted changes" : ""})`,
            stacks: await Promise.all(stacks.map((s, i) => stackDiff(s, renders[2 * i], renders[2 * i + 1]!))),
        };
        const text = values.format === "markdown" ? markdownReport(review) : values.format === "json" ? jsonReport(review) : textReport(review);
        if (values.out) {
            writeFileSync(resolve(values.out), text);
            console.log(`${values.out}: ${values.format} report written (exit ${exitCode(review)})`);
        } else {
            process.stdout.write(text);
        }
        return exitCode(review);
    } finally {
        cleanup();
    }
}

main().then(
    (code) => process.exit(code),
    (e) => {
        console.error(e instanceof UsageError ? e.message : (e as Error).stack);
        process.exit(1);
    },
);
