/**
 * Offline render: runs the program for a stack under the SDK's mocks (no Pulumi CLI,
 * no Docker, no cluster) and writes <out>/plan.json and <out>/files/<service>/...
 *
 *   npm run render -- --stack dev --out out/dev [--show-secrets] [--config-file F]
 */
import { join, resolve } from "node:path";
import { parseCli, USAGE_EXIT } from "./cli";
import { readStackFile, StackFileError } from "../render/stackfile";
import { checkOutDir, OutDirError } from "../render/outdir";
import { writeRender } from "../render/write";
import { mandatoryOf, violationLine } from "../render/violations";

async function main(): Promise<number> {
    const usage = "usage: npm run render -- --stack <name> --out <dir> [--show-secrets] [--config-file Pulumi.<stack>.yaml]\n" +
        "  Runs the program under Pulumi's mocks, no CLI or cluster needed, and writes every generated file, plan.json and the\n" +
        "  policy pack's verdict (policy.json) to <dir>; secrets stay masked unless --show-secrets.";
    const values = parseCli(
        {
            stack: { type: "string" },
            out: { type: "string" },
            "show-secrets": { type: "boolean", default: false },
            "config-file": { type: "string" },
        },
        usage,
    );
    if (!values.stack || !values.out) {
        console.error(usage);
        return USAGE_EXIT;
    }
    const file = resolve(values["config-file"] ?? `Pulumi.${values.stack}.yaml`);
    let stackFile;
    try {
        checkOutDir(values.out);
        stackFile = readStackFile(file);
    } catch (e) {
        if (!(e instanceof OutDirError || e instanceof StackFileError)) throw e;
        console.error(e.message);
        return 1;
    }
    for (const k of stackFile.encrypted) console.error(`note: ${k} is encrypted in ${file}; the render uses the stand-in "${stackFile.config[k]}"`);

    let written;
    try {
        written = await writeRender({ stack: values.stack, stackFile, out: values.out, showSecrets: values["show-secrets"] === true });
    } catch (e) {
        console.error((e as Error).message);
        return 1;
    }
    const { out, violations } = written;
    console.log(`${values.stack}: ${written.resources} resources, ${written.written} files written to ${out}` +
        (written.skipped ? ` (${written.skipped} secret files left out; add --show-secrets)` : ""));
    const mandatory = mandatoryOf(violations);
    for (const v of mandatory) console.error(`policy violation ${violationLine(v)}`);
    const advisories = violations.filter((v) => v.enforcement === "advisory");
    if (advisories.length > 0) console.error(`${values.stack}: ${advisories.length} advisory policy finding(s) (${[...new Set(advisories.map((v) => v.policy))].join(", ")}): see ${join(out, "policy.json")}`);
    if (mandatory.length > 0) console.error(`${values.stack}: ${mandatory.length} mandatory policy violation(s); pulumi preview --policy-pack policy would refuse this stack`);
    return mandatory.length > 0 ? 1 : 0;
}

main().then((code) => process.exit(code), (e) => {
    console.error(e);
    process.exit(1);
});
