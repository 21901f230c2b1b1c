/**
 * Where a render may write: a new or empty directory, or one an earlier render made
 * (it holds the marker file). Anything else is refused, so `--out` never deletes what
 * it did not create, and never the working tree or a directory above it.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";

export const RENDER_MARKER = ".flowviz-render";

export class OutDirError extends Error {
    override name = "OutDirError";
}

/** The absolute path of a directory a render may write, or an OutDirError saying why not. */
export function checkOutDir(dir: string, cwd = process.cwd()): string {
    const out = resolve(cwd, dir);
    const up = relative(out, cwd);
    if (up === "" || !up.startsWith("..")) {
        throw new OutDirError(`--out ${dir}: is the working directory or contains it; choose a directory of its own, e.g. out/<stack>`);
    }
    if (existsSync(out)) {
        if (!statSync(out).isDirectory()) throw new OutDirError(`--out ${dir}: exists and is not a directory`);
        const entries = readdirSync(out);
        if (entries.length > 0 && !entries.includes(RENDER_MARKER)) {
            throw new OutDirError(`--out ${dir}: holds files no render wrote (no ${RENDER_MARKER} marker); nothing was deleted: choose an empty or new directory`);
        }
    }
    return out;
}

/** Empties (or creates) the directory and marks it as a render's; returns its absolute path. */
export function prepareOutDir(dir: string, cwd = process.cwd()): string {
    const out = checkOutDir(dir, cwd);
    if (existsSync(out)) for (const e of readdirSync(out)) rmSync(join(out, e), { recursive: true, force: true });
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, RENDER_MARKER), "written by npm run render; the next render into this directory replaces everything in it\n");
    return out;
}
