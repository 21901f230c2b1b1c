/**
 * The PostgreSQL image with pgBackRest a stack names, and the PostgreSQL image it is built on:
 * `npx tsx scripts/backup-image.ts --stack prod` prints "<image> <postgres.image>", or nothing
 * when the stack's engine runs no image of ours (CloudNativePG runs the operator's); the deploy
 * workflow hands it to scripts/publish-image.sh.
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { readStackFile } from "../render/stackfile";
import { loadStackConfig } from "../stack/load";

const { values } = parseArgs({ options: { stack: { type: "string" }, "config-file": { type: "string" } } });
if (!values.stack) {
    console.error("usage: npx tsx scripts/backup-image.ts --stack <name> [--config-file <Pulumi.<name>.yaml>]");
    process.exit(1);
}
const file = readStackFile(resolve(values["config-file"] ?? `Pulumi.${values.stack}.yaml`));
const { config } = loadStackConfig("flowviz", values.stack, file.config, (k) => file.secretKeys.includes(k));
if (config.postgres.engine === "cloudnative-pg") process.exit(0);
if (!config.postgres.backups.image) {
    console.error(`${values.stack}: postgres.backups.image is unset (Docker stacks build their own image)`);
    process.exit(1);
}
console.log(`${config.postgres.backups.image} ${config.postgres.image}`);
