/**
 * Renders of clean checkouts, kept in the repository's git directory. A render under the mocks is a function of the
 * checkout's committed files, the stack, the renderer's own files (this checkout's scripts/snapshot.ts and what it
 * loads) and the installed packages; its credentials are the mocks' values made from resource names and stand-ins for
 * `secure:` values, never a real secret. So a base (or an unchanged head) diffed again is read back, not rendered again.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import type { Snapshot } from "./compare";

/** How many renders the cache keeps (the most recently used). */
const KEEP = 64;

interface Entry {
    /** the renderer's files outside the checkout, each with its SHA-256 when rendered */
    renderer: Record<string, string>;
    snapshot: Snapshot;
}

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");
const git = (cwd: string, ...args: string[]) => execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
const fileHash = (path: string) => (existsSync(path) ? sha256(readFileSync(path)) : "missing");

/** A checkout with nothing uncommitted (the node_modules link the diff makes aside): its tree is all its files. */
function cleanTree(checkout: string): string | undefined {
    const changes = git(checkout, "status", "--porcelain", "--untracked-files=all").split("\n").filter((l) => l && l !== "?? node_modules");
    return changes.length === 0 ? git(checkout, "rev-parse", "HEAD^{tree}") : undefined;
}

export class SnapshotCache {
    readonly dir: string;
    private readonly packages: string;

    constructor(private readonly root: string) {
        const common = git(root, "rev-parse", "--git-common-dir");
        this.dir = join(isAbsolute(common) ? common : resolve(root, common), "flowviz-diff-cache");
        this.packages = fileHash(join(root, "node_modules/.package-lock.json"));
    }

    /** Where a clean checkout's render of the stack is kept; undefined for a checkout with uncommitted changes. */
    file(checkout: string, stack: string): string | undefined {
        const tree = cleanTree(checkout);
        return tree && join(this.dir, `${sha256([tree, stack, process.version, this.packages].join("\0")).slice(0, 32)}.json`);
    }

    /** The render kept in `file` (this.file's), if its renderer's files are still the same. */
    get(file: string): Snapshot | undefined {
        if (!existsSync(file)) return undefined;
        try {
            const entry = JSON.parse(readFileSync(file, "utf8")) as Entry;
            if (Object.entries(entry.renderer).some(([path, hash]) => fileHash(path) !== hash)) return undefined;
            const now = new Date();
            utimesSync(file, now, now);
            return entry.snapshot;
        } catch {
            return undefined;
        }
    }

    /** Keeps a render of `checkout` in `file` (this.file's); `loaded` are the files its process ran (those outside the checkout are the renderer's). */
    put(file: string, checkout: string, snapshot: Snapshot, loaded: string[]): void {
        const at = realpathSync(checkout) + "/";
        const inside = (p: string) => p.startsWith(at) || p.includes("/node_modules/");
        const renderer = Object.fromEntries(loaded.filter((p) => isAbsolute(p) && !inside(p)).map((p) => [p, fileHash(p)]));
        mkdirSync(this.dir, { recursive: true });
        writeFileSync(file, JSON.stringify({ renderer, snapshot } satisfies Entry));
        this.prune();
    }

    private prune(): void {
        const entries = readdirSync(this.dir).map((f) => join(this.dir, f)).sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
        for (const old of entries.slice(KEEP)) rmSync(old, { force: true });
    }
}
