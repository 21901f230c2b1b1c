/**
 * Offline render: runs the program for a stack under the SDK's mocks (no Pulumi CLI,
 * no Docker, no cluster) and writes <out>/plan.json and <out>/files/<service>/...
 *
 *   npm run render -- --stack dev --out out/dev [--show-secrets] [--config-file F]
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { parseCli, USAGE_EXIT } from "./cli";
import { dirname, join, resolve } from "node:path";
import { runProgram } from "../render/program";
import { maskSecrets, renderedFiles } from "../render/files";
import { readStackFile, StackFileError } from "../render/stackfile";
import { checkOutDir, OutDirError, prepareOutDir } from "../render/outdir";
import { checkPolicies } from "../render/policy-check";

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
    const show = values["show-secrets"] === true;
    const file = resolve(values["config-file"] ?? `Pulumi.${values.stack}.yaml`);
    try {
        checkOutDir(values.out);
    } catch (e) {
        if (!(e instanceof OutDirError)) throw e;
        console.error(e.message);
        return 1;
    }
    let stackFile;
    try {
        stackFile = readStackFile(file);
    } catch (e) {
        if (!(e instanceof StackFileError)) throw e;
        console.error(e.message);
        return 1;
    }
    for (const k of stackFile.encrypted) console.error(`note: ${k} is encrypted in ${file}; the render uses the stand-in "${stackFile.config[k]}"`);

    let run;
    try {
        run = await runProgram({ stack: values.stack, config: stackFile.config, secretKeys: stackFile.secretKeys });
    } catch (e) {
        console.error((e as Error).message);
        return 1;
    }
    const out = prepareOutDir(values.out);
    const plan = {
        stack: values.stack,
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
    console.log(`${values.stack}: ${run.resources.length} resources, ${files.length - skipped} files written to ${out}` +
        (skipped ? ` (${skipped} secret files left out; add --show-secrets)` : ""));
    const violations = await checkPolicies(run.resources);
    writeFileSync(join(out, "policy.json"), JSON.stringify(violations, null, 2) + "\n");
    for (const v of violations.filter((x) => x.enforcement === "mandatory")) console.error(`policy violation [${v.policy}] ${v.resource}: ${v.message}`);
    const advisories = violations.filter((v) => v.enforcement === "advisory");
    if (advisories.length > 0) console.error(`${values.stack}: ${advisories.length} advisory policy finding(s) (${[...new Set(advisories.map((v) => v.policy))].join(", ")}): see ${join(out, "policy.json")}`);
    const mandatory = violations.filter((v) => v.enforcement === "mandatory").length;
    if (mandatory > 0) console.error(`${values.stack}: ${mandatory} mandatory policy violation(s); pulumi preview --policy-pack policy would refuse this stack`);
    return mandatory > 0 ? 1 : 0;
}

main().then((code) => process.exit(code), (e) => {
    console.error(e);
    process.exit(1);
});
