/**
 * The real-server suites, several at a time: `scripts/servers.sh run tsx scripts/integration.ts [--lanes N] [files...]`.
 * Each lane is a vitest run in a network namespace of its own (`unshare --net`, its loopback brought up with the root's
 * `ip`), so suites that listen on the same fixed ports run side by side; their folders under /tmp are their own already,
 * and each lane gets a /tmp/pgbackrest of its own (a mount namespace). A stack rendered once in the run is copied, not
 * rendered again (FLOWVIZ_RENDER_CACHE).
 * Without the right to make a namespace (not root) everything runs in one lane, as before. A lane's output is printed
 * whole when it ends; the exit status is the first failing lane's.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { secondsOf, spreadOverLanes } from "./lanes";

const USAGE = "usage: scripts/servers.sh run tsx scripts/integration.ts [--lanes N] [test/integration/<file>.test.ts ...]";
if (process.argv.includes("--help")) {
    console.log(USAGE);
    process.exit(0);
}
const { values, positionals: files } = parseArgs({ options: { lanes: { type: "string" } }, allowPositionals: true });
const suites = files.length > 0 ? files : readdirSync("test/integration").filter((f) => f.endsWith(".test.ts")).map((f) => `test/integration/${f}`);

const root = process.env.FLOWVIZ_SERVER_ROOT;
if (!root) {
    console.error("integration: the real servers are not set up: run it under scripts/servers.sh run");
    process.exit(1);
}
const namespaces = spawnSync("unshare", ["--net", "--mount", "true"]).status === 0;
// four lanes on two cores: the suites often wait on their servers; on a 2-core machine three lanes took 212-215 s
// (about 75% of both cores busy), four 175-183 s (89%), both green (12-07)
const wanted = Number(values.lanes ?? process.env.FLOWVIZ_LANES ?? 4);
if (!Number.isInteger(wanted) || wanted < 1) {
    console.error(`integration: --lanes takes a whole number of at least 1, not "${values.lanes ?? process.env.FLOWVIZ_LANES}"\n${USAGE}`);
    process.exit(2);
}
if (!namespaces) console.log("integration: no network namespaces here (unshare --net needs root): one lane");
const lanes = spreadOverLanes(suites, namespaces ? wanted : 1);

const vitest = (files: string[]) => ["npx", "vitest", "run", "--project", "integration", ...files];
/**
 * A lane's namespaces: its own network (loopback up), and its own /tmp/pgbackrest (pgBackRest's default lock path, which
 * its TLS server's remotes use whatever the client's configuration says: one pod's /tmp deployed, every lane's here),
 * mounted where the tests see it and where the root's servers do.
 */
const LANE_SETUP = [
    `chroot "$FLOWVIZ_SERVER_ROOT" ip link set lo up`,
    `locks=$(mktemp -d /tmp/flowviz-lane-locks-XXXXXX) && chmod 1777 "$locks" && mkdir -p /tmp/pgbackrest`,
    `mount --bind "$locks" /tmp/pgbackrest`,
    `{ [ "$FLOWVIZ_SERVER_ROOT" = / ] || mount --bind "$locks" "$FLOWVIZ_SERVER_ROOT/tmp/pgbackrest"; }`,
    `exec "$@"`,
].join(" && ");
const inNamespace = (argv: string[]) => ["unshare", "--net", "--mount", "--propagation", "private", "--", "sh", "-c", LANE_SETUP, "sh", ...argv];

// renders shared by the suites of this run (test/integration/servers.ts), gone with it
const renderCache = mkdtempSync(join(tmpdir(), "flowviz-render-cache-"));
const started = Date.now();
const runs = lanes.map((laneFiles, i) => {
    const argv = namespaces ? inNamespace(vitest(laneFiles)) : vitest(laneFiles);
    const estimate = laneFiles.reduce((s, f) => s + secondsOf(f), 0);
    console.log(`lane ${i + 1}: ${laneFiles.map((f) => f.replace("test/integration/", "")).join(" ")} (about ${estimate} s by the measured weights)`);
    return new Promise<{ lane: number; code: number }>((done) => {
        const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, FORCE_COLOR: process.env.FORCE_COLOR ?? "1", FLOWVIZ_RENDER_CACHE: renderCache } });
        const output: Buffer[] = [];
        child.stdout.on("data", (d: Buffer) => output.push(d));
        child.stderr.on("data", (d: Buffer) => output.push(d));
        child.on("close", (code, signal) => {
            process.stdout.write(`\n===== lane ${i + 1} (${((Date.now() - started) / 1000).toFixed(0)} s) =====\n`);
            process.stdout.write(Buffer.concat(output));
            done({ lane: i + 1, code: code ?? (signal ? 1 : 0) });
        });
    });
});

void Promise.all(runs).then((ended) => {
    rmSync(renderCache, { recursive: true, force: true });
    const failed = ended.filter((r) => r.code !== 0);
    console.log(`\nintegration: ${lanes.length} lane(s), ${suites.length} files, ${((Date.now() - started) / 1000).toFixed(0)} s; ${failed.length === 0 ? "all green" : `failed: lane ${failed.map((r) => r.lane).join(", ")}`}`);
    process.exit(failed[0]?.code ?? 0);
});
