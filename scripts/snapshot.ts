/**
 * One side of `npm run diff`, in a process of its own (the Pulumi runtime is global):
 * runs a checkout's program under the mocks and sends the recorded plan to the parent
 * over IPC. Its credentials are the mocks' values and stand-ins, never a real secret (the diff may keep the render:
 * diff/snapshot-cache.ts).
 *
 *   fork("scripts/snapshot.ts", ["--program", "<checkout>/index.ts", "--config-file", F, "--stack", S])
 */
import { parseArgs } from "node:util";
import { runProgram } from "../render/program";
import { readStackFile, StackFileError } from "../render/stackfile";
import { renderedFiles } from "../render/files";

const reply = (message: unknown) => process.send!(message, () => process.exit(0));

async function main(): Promise<void> {
    const { values } = parseArgs({ options: { program: { type: "string" }, "config-file": { type: "string" }, stack: { type: "string" } } });
    try {
        const file = readStackFile(values["config-file"]!);
        const run = await runProgram({ stack: values.stack!, config: file.config, secretKeys: file.secretKeys, program: values.program! });
        // the files this process ran: those outside the checkout are the renderer's (diff/snapshot-cache.ts)
        reply({ ok: true, snapshot: { ...run, files: renderedFiles(run.resources) }, loaded: Object.keys(require.cache) });
    } catch (e) {
        // a user mistake (stack file, config) is a message; anything else a bug with its trace
        const mistake = e instanceof StackFileError || (e as { __pulumiRunError?: boolean }).__pulumiRunError === true;
        const message = mistake ? (e as Error).message : String((e as Error).stack ?? e);
        reply({ ok: false, error: message });
    }
}

void main();
