import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { vi } from "vitest";
import { runProgram, type ProgramRun, type RecordedResource } from "../render/program";
import { readStackFile } from "../render/stackfile";

export { ROOT } from "./root";
import { ROOT } from "./root";

/**
 * Runs the program for a stack file under mocks, with some top-level keys replaced
 * and some secrets set (as `secure:` values would be). Fresh module graph each time.
 */
export async function runStack(
    stackFile: string,
    opts: { stack?: string; override?: Record<string, unknown>; secrets?: Record<string, string> } = {},
): Promise<ProgramRun> {
    vi.resetModules();
    const file = readStackFile(resolve(ROOT, stackFile));
    const config = { ...file.config };
    for (const [k, v] of Object.entries(opts.override ?? {})) config[`flowviz:${k}`] = typeof v === "string" ? v : JSON.stringify(v);
    const secretKeys = [...file.secretKeys];
    for (const [k, v] of Object.entries(opts.secrets ?? {})) {
        config[`flowviz:${k}`] = v;
        secretKeys.push(`flowviz:${k}`);
    }
    return runProgram({ stack: opts.stack ?? "test", config, secretKeys, program: resolve(ROOT, "index.ts") });
}

export function only(run: ProgramRun, type: string, name: string): RecordedResource {
    const found = run.resources.filter((r) => r.type === type && r.name === name);
    if (found.length !== 1) throw new Error(`expected one ${type} named ${name}, found ${found.length}`);
    return found[0]!;
}

export const ofType = (run: ProgramRun, type: string) => run.resources.filter((r) => r.type === type);

/** A copy of the working tree (tracked and new files) in `dir`, as a new repository's files, not yet committed. */
export function copyWorkingTree(dir: string): void {
    const files = execFileSync("git", ["ls-files", "-co", "--exclude-standard"], { cwd: ROOT, encoding: "utf8" }).split("\n").filter(Boolean);
    for (const f of files) {
        mkdirSync(dirname(join(dir, f)), { recursive: true });
        try {
            cpSync(join(ROOT, f), join(dir, f));
        } catch {
            // a file deleted in the working tree but still tracked
        }
    }
}
