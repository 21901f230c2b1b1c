/**
 * A render written to a directory: the program run for a stack file under the mocks, then <out>/plan.json,
 * <out>/files/<service>/... and <out>/policy.json. What `npm run render` does, callable in-process (the real-server
 * tests render many stacks in one process). Nothing is written when the stack file or the program fails.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { runProgram } from "./program";
import { maskSecrets, renderedFiles } from "./files";
import type { StackFile } from "./stackfile";
import { checkOutDir, prepareOutDir } from "./outdir";
import { checkPolicies } from "./policy-check";
import type { PolicyViolation } from "./violations";

export interface WrittenRender {
    out: string;
    resources: number;
    /** files written (secret ones only with showSecrets) */
    written: number;
    /** secret files left out */
    skipped: number;
    violations: PolicyViolation[];
}

/**
 * `stackFile` as render/stackfile.ts read it. Throws OutDirError (the directory may not be written) or the program's own
 * error (the configuration is refused), each before anything is written.
 */
export async function writeRender(opts: { stack: string; stackFile: StackFile; out: string; showSecrets: boolean }): Promise<WrittenRender> {
    const { stackFile, showSecrets: show } = opts;
    checkOutDir(opts.out);
    const run = await runProgram({ stack: opts.stack, config: stackFile.config, secretKeys: stackFile.secretKeys });
    const out = prepareOutDir(opts.out);
    const plan = {
        stack: opts.stack,
        secretsShown: show,
        outputs: Object.fromEntries(
            Object.entries(run.outputs).map(([k, v]) => [k, !show && run.secretOutputs.includes(k) ? "[secret]" : maskSecrets(v, show)]),
        ),
        resources: run.resources.map((r) => ({ ...r, inputs: maskSecrets(r.inputs, show) })),
    };
    // with the credentials in it, the plan is its owner's only
    writeFileSync(join(out, "plan.json"), JSON.stringify(plan, null, 2) + "\n", { mode: show ? 0o600 : 0o644 });
    const files = renderedFiles(run.resources);
    let skipped = 0;
    for (const f of files) {
        if (f.secret && !show) {
            skipped++;
            continue;
        }
        const path = join(out, "files", f.service, f.path);
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, f.content, { mode: f.secret ? 0o600 : 0o644 });
    }
    const violations = await checkPolicies(run.resources);
    writeFileSync(join(out, "policy.json"), JSON.stringify(violations, null, 2) + "\n");
    return { out, resources: run.resources.length, written: files.length - skipped, skipped, violations };
}
