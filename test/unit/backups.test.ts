/** The backup runs, their schedule loop, the certificate watch and PostgreSQL's start script, run by /bin/sh with stand-ins for the image's programs. */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { pgbackrestSize, postgresStartScript } from "../../configs/pgbackrest";
import { pgbackrestTime, restoreOptions, restoreScript } from "../../configs/restore";
import { backupRunScript, WAL_GAPS_AWK } from "../../configs/backup-runs";
import { scheduleLoopScript } from "../../configs/schedule-loop";
import { certificateWatchScript } from "../../configs/certificates";
import { CronExpressionParser } from "cron-parser";
import { cronFields, isCron, longestGapSeconds } from "../../stack/schedule";

/** A folder of stand-in programs that append their arguments to calls.log. */
function standIns(programs: Record<string, string>): string {
    const dir = mkdtempSync(join(tmpdir(), "flowviz-standins-"));
    mkdirSync(join(dir, "bin"));
    for (const [name, body] of Object.entries(programs)) {
        writeFileSync(join(dir, "bin", name), `#!/bin/sh\necho "${name} $*" >> ${dir}/calls.log\n${body}\n`);
        chmodSync(join(dir, "bin", name), 0o755);
    }
    return dir;
}
const calls = (dir: string) => (existsSync(join(dir, "calls.log")) ? readFileSync(join(dir, "calls.log"), "utf8").trim().split("\n") : []);

/** Writes a generated script and the awk program it reads into the stand-ins' folder. */
const RUNS_DIR = (dir: string) => join(dir, "runs");

describe("the schedule loop (Docker's backup container)", () => {
    /** Runs the loop over a list of UTC minutes ("2026-12-06T01:00"), one per turn, then stops it; `failFirst` makes the first attempt of each run fail. */
    function runOver(minutes: string[], opts: { full?: string; diff?: string; failFirst?: boolean } = {}): string[] {
        const fmt = (iso: string) => {
            const d = new Date(`${iso}:00Z`);
            const p = (n: number) => String(n).padStart(2, "0");
            return `${p(d.getUTCMinutes())} ${p(d.getUTCHours())} ${p(d.getUTCDate())} ${p(d.getUTCMonth() + 1)} ${d.getUTCDay()}`;
        };
        const dir = standIns({
            // the clock: the current minute of the list; a 10 s sleep moves to the next (and ends the loop after the last), a retry's pause is only logged
            date: `sed -n "$(cat ${"$"}STATE/i)p" ${"$"}STATE/minutes`,
            sleep: `[ "$1" = 10 ] || exit 0; i=$(( $(cat ${"$"}STATE/i) + 1 )); echo $i > ${"$"}STATE/i; [ $i -le $(wc -l < ${"$"}STATE/minutes) ] || kill -TERM $PPID`,
            runner: opts.failFirst ? `f=${"$"}STATE/failed-$1; [ -e $f ] && exit 0; touch $f; exit 1` : "exit 0",
        });
        writeFileSync(join(dir, "minutes"), minutes.map(fmt).join("\n") + "\n");
        writeFileSync(join(dir, "i"), "1\n");
        const script = scheduleLoopScript(
            [
                { name: "first", command: ["runner", "first"], atStart: true },
                { name: "full", cron: cronFields(opts.full ?? "0 1 * * 0"), command: ["runner", "full"] },
                { name: "diff", cron: cronFields(opts.diff ?? "0 1 * * 1-6"), command: ["runner", "diff"] },
                { name: "wal-check", cron: cronFields("*/10 * * * *"), command: ["runner", "wal-check"] },
            ],
            3,
        );
        spawnSync("/bin/sh", ["-c", script], { env: { PATH: `${dir}/bin:/usr/bin:/bin`, STATE: dir }, encoding: "utf8", timeout: 20_000 });
        return calls(dir).filter((c) => c.startsWith("runner") || (c.startsWith("sleep") && c !== "sleep 10"));
    }

    it("runs `first` at start, then each run its minute's schedule asks for", () => {
        // Sunday 01:00 (full, and a tenth minute), Monday 01:00 (diff), Monday 01:01 (nothing), Saturday 01:00 (diff)
        expect(runOver(["2026-12-06T01:00", "2026-12-07T01:00", "2026-12-07T01:01", "2026-12-12T01:00"])).toEqual([
            "runner first",
            "runner full",
            "runner wal-check",
            "runner diff",
            "runner wal-check",
            "runner diff",
            "runner wal-check",
        ]);
    });

    it("retries a failed run after a pause, and goes on", () => {
        expect(runOver(["2026-12-07T01:01"], { failFirst: true })).toEqual(["runner first", "sleep 60", "runner first"]);
    });

    it("reads cron's day rule: day of month OR day of week when both are restricted", () => {
        // the 1st of the month, or any Friday, at 02:30
        const runs = runOver(["2026-12-01T02:30", "2026-12-04T02:30", "2026-12-05T02:30"], { full: "30 2 1 * 5", diff: "0 0 1 1 *" });
        expect(runs.filter((r) => r === "runner full")).toHaveLength(2);
    });
});

describe("the backup runs' script", () => {
    /** Runs backup.sh with a stand-in pgBackRest: `info` lists the given full backups, `repo-ls` the given WAL segments. */
    function backup(mode: string | string[], opts: { fulls?: [string, string][]; wal?: string[]; offsite?: boolean; checkFails?: boolean } = {}): { status: number | null; calls: string[]; stderr: string } {
        const info = (opts.fulls ?? []).map(([label, start]) => `        full backup: ${label}\n            wal start/stop: ${start} / ${start}`).join("\n");
        const dir = standIns({
            pgbackrest: `case "$*" in ${opts.checkFails ? '*" check"*) exit 1 ;; ' : ""}*" info "*) printf 'stanza: flowviz\\n${info.replace(/\n/g, "\\n")}\\n' ;; *repo-ls*) for s in ${(opts.wal ?? []).join(" ")}; do echo "17-1/0000000100000000/$s-0123456789abcdef0123456789abcdef01234567.zst"; done ;; esac`,
            sleep: "exit 0",
        });
        mkdirSync(RUNS_DIR(dir));
        writeFileSync(join(RUNS_DIR(dir), "wal-gaps.awk"), WAL_GAPS_AWK);
        const script = backupRunScript({ command: "pgbackrest --stanza=flowviz", awkFile: join(RUNS_DIR(dir), "wal-gaps.awk"), offsite: opts.offsite ?? false });
        const r = spawnSync("/bin/sh", ["-c", script, "backup.sh", ...[mode].flat()], { env: { PATH: `${dir}/bin:/usr/bin:/bin`, FIRST_WAIT_SECONDS: "60" }, encoding: "utf8" });
        return { status: r.status, stderr: r.stderr, calls: calls(dir).filter((c) => c.startsWith("pgbackrest") && !c.includes(" info") && !c.includes("repo-ls")) };
    }
    const seg = (n: number) => `0000000100000000000000${n.toString(16).toUpperCase().padStart(2, "0")}`;

    it("first: the stanza, the archive check, and a full backup only when the repository has none", () => {
        expect(backup("first").calls).toEqual(["pgbackrest --stanza=flowviz stanza-create", "pgbackrest --stanza=flowviz check", "pgbackrest --stanza=flowviz backup --repo=1 --type=full"]);
        expect(backup("first", { fulls: [["20261201-010000F", seg(2)]] }).calls).toEqual(["pgbackrest --stanza=flowviz stanza-create", "pgbackrest --stanza=flowviz check"]);
    });

    it("first after a restore: waits while PostgreSQL is not writable, then backs the new timeline up at once, marked with the restore", () => {
        const restored = backup(["first", "recall-1"], { fulls: [["20261201-010000F", seg(2)]] });
        expect(restored.calls).toEqual(["pgbackrest --stanza=flowviz stanza-create", "pgbackrest --stanza=flowviz check", "pgbackrest --stanza=flowviz backup --repo=1 --type=full --annotation=flowviz-restore=recall-1"]);
        // never writable: it tries every 30 s for FIRST_WAIT_SECONDS (60 here), then fails, having backed nothing up
        const never = backup(["first", "recall-1"], { checkFails: true });
        expect(never.status).toBe(1);
        expect(never.stderr).toContain("PostgreSQL is still not writable after 60s");
        expect(never.calls.filter((c) => c.includes(" check")).length).toBe(3);
        expect(never.calls.some((c) => c.includes(" backup"))).toBe(false);
    });

    it("full and diff take that backup in the first repository; verify reads the repository back", () => {
        expect(backup("diff").calls).toEqual(["pgbackrest --stanza=flowviz stanza-create", "pgbackrest --stanza=flowviz backup --repo=1 --type=diff"]);
        expect(backup("verify").calls).toEqual(["pgbackrest --stanza=flowviz verify"]);
        expect(backup("hourly").status).toBe(2);
        expect(backup("offsite").status).toBe(2);
    });

    it("with an off-site repository: its own full backup, and verify reads both", () => {
        expect(backup("first", { offsite: true }).calls).toEqual(["pgbackrest --stanza=flowviz stanza-create", "pgbackrest --stanza=flowviz check", "pgbackrest --stanza=flowviz backup --repo=1 --type=full", "pgbackrest --stanza=flowviz backup --repo=2 --type=full"]);
        expect(backup("offsite", { offsite: true }).calls).toEqual(["pgbackrest --stanza=flowviz stanza-create", "pgbackrest --stanza=flowviz backup --repo=2 --type=full"]);
        expect(backup("verify", { offsite: true }).calls).toEqual(["pgbackrest --stanza=flowviz verify --repo=1", "pgbackrest --stanza=flowviz verify --repo=2"]);
        expect(backup("full", { offsite: true }).calls).toEqual(["pgbackrest --stanza=flowviz stanza-create", "pgbackrest --stanza=flowviz backup --repo=1 --type=full"]);
    });

    it("wal-check: a gap after the newest full backup marks it and takes a new full backup; gaps before it and a clean archive do nothing", () => {
        const fulls: [string, string][] = [["20261201-010000F", seg(1)], ["20261206-010000F", seg(4)]];
        const gap = backup("wal-check", { fulls, wal: [1, 2, 3, 4, 5, 9, 10].map(seg) });
        expect(gap.calls).toEqual([`pgbackrest --stanza=flowviz annotate --set=20261206-010000F --annotation=flowviz-wal-gap=${seg(6)}-${seg(8)}`, "pgbackrest --stanza=flowviz backup --repo=1 --type=full"]);
        expect(gap.stderr).toContain("WAL missing from the archive after full backup 20261206-010000F");
        // segments 2-3 are missing, but before the newest full backup: it restores without them
        expect(backup("wal-check", { fulls, wal: [1, 4, 5, 6].map(seg) }).calls).toEqual([]);
        expect(backup("wal-check", { fulls, wal: [1, 2, 3, 4, 5, 6, 7].map(seg) }).calls).toEqual([]);
        expect(backup("wal-check", { wal: [1, 5].map(seg) }).calls).toEqual([]);
    });
});

describe("the certificate watch beside PostgreSQL", () => {
    it("reads each server's certificate (STARTTLS for PostgreSQL's protocol, plain TLS for Valkey), records it, and runs the server alongside", () => {
        // the first pause between rounds ends the watch; the server outlives it a moment
        const dir = standIns({ psql: "exit 0", openssl: 'case "$*" in *x509*) echo "notAfter=Mar  4 08:00:00 2027 GMT" ;; esac', sleep: "kill -TERM $PPID", server: "/bin/sleep 1" });
        const script = certificateWatchScript({
            psql: "psql",
            endpoints: [
                { name: "pgbouncer", host: "pgbouncer", port: 6432, protocol: "postgres" },
                { name: "valkey", host: "valkey", port: 6379, protocol: "tls" },
            ],
            everyMinutes: 5,
            exec: "server",
        });
        spawnSync("/bin/sh", ["-c", script], { env: { PATH: `${dir}/bin:/usr/bin:/bin` }, encoding: "utf8", timeout: 10_000 });
        const c = calls(dir);
        expect(c.filter((x) => x.startsWith("openssl s_client"))).toEqual(["openssl s_client -connect pgbouncer:6432 -servername pgbouncer -starttls postgres", "openssl s_client -connect valkey:6379 -servername valkey"]);
        expect(c.filter((x) => x.startsWith("psql") && x.includes("INSERT INTO flowviz_ops.certificates")).length).toBe(2);
        expect(c).toContain("server ");
    });
});

describe("schedules", () => {
    it("accepts five-field cron only", () => {
        expect(["0 1 * * 0", "*/15 * * * *", "30 2 1 * 5", "0 1 * * SUN", "0 1 * JUL MON-FRI", "0 1 1-7 * *"].every(isCron)).toBe(true);
        expect(["0 25 * * 0", "daily", "0 1 * *", "0 0 1 * * *", "61 * * * *"].some(isCron)).toBe(false);
        // cron-parser takes these; a Kubernetes CronJob refuses them, so neither platform gets them
        for (const k8sRefuses of ["0 1 * * 7", "0 1 * * 5-7", "0 1 L * *", "0 1 15W * *", "0 1 * * 5L", "0 1 * * 1#2", "0 1 ? * 1"]) expect(isCron(k8sRefuses), k8sRefuses).toBe(false);
    });
    it("finds the longest gap between runs, over several schedules", () => {
        expect(longestGapSeconds(["0 1 * * 0"])).toBe(7 * 86400);
        expect(longestGapSeconds(["0 1 * * 0", "0 1 * * 1-6"])).toBe(86400);
        // the 1st of each month: the longest month
        expect(longestGapSeconds(["0 0 1 * *"])).toBe(31 * 86400);
    });

    it("finds the gap cron-parser's own walk of the runs finds, for every kind of field", () => {
        // the reference: each run cron-parser yields, over the same 366 days
        const walked = (exprs: string[], from: Date) => {
            const end = from.getTime() + 366 * 86400_000;
            const runs = new Set<number>();
            for (const expr of exprs) {
                const it = CronExpressionParser.parse(expr, { tz: "UTC", currentDate: new Date(from.getTime() - 1) });
                for (let t = it.next().getTime(); t <= end; t = it.next().getTime()) runs.add(t);
            }
            const sorted = [...runs].sort((a, b) => a - b);
            return sorted.slice(1).reduce((gap, t, i) => Math.max(gap, t - sorted[i]!), 0) / 1000;
        };
        const schedules = [
            ["0 1 * * 0"], ["0 1 * * 1-6"], ["0 1 * * 0", "0 1 * * 1-6"], ["0 0 1 * *"], ["0 0 31 * *"], ["15 3 29 2 *"],
            // both day fields restricted: either one runs it
            ["30 2 1 * 5"], ["0 1 1-7 * 1"], ["0 12 * JUL MON-FRI"], ["5 4 * * 0,3"], ["0 */6 * * *"], ["*/30 9-17 * * 1-5"],
            ["0 0 1 * *", "0 12 15 * *"], ["0 3 */2 * *"], ["45 23 28-31 * *"],
        ];
        for (const from of [new Date(Date.UTC(2026, 0, 1)), new Date(Date.UTC(2027, 5, 15, 13, 0))]) {
            for (const exprs of schedules) expect(longestGapSeconds(exprs, from), `${exprs.join(" + ")} from ${from.toISOString()}`).toBe(walked(exprs, from));
        }
    });
});

describe("pgBackRest's words for the stack's values", () => {
    it("writes sizes and restore targets as pgBackRest reads them", () => {
        expect(pgbackrestSize("4Gi")).toBe("4GB");
        expect(pgbackrestSize("1536Mi")).toBe("1536MB");
        expect(pgbackrestTime("2026-12-04T10:15:00.5Z")).toBe("2026-12-04 10:15:00.5+00");
        expect(pgbackrestTime("2026-12-04T10:15:00+05:30")).toBe("2026-12-04 10:15:00+0530");
        // recovery is closed to clients (no hot standby) until it promotes at the target
        expect(restoreOptions("latest")).toEqual(["--type=default", "--recovery-option=hot_standby=off"]);
        expect(restoreOptions("lsn:0/3000060")).toEqual(["--type=lsn", "--target=0/3000060", "--target-action=promote", "--recovery-option=hot_standby=off"]);
    });
});

describe("PostgreSQL's start script", () => {
    it("makes the folders on the data volume, then starts the image's entrypoint", () => {
        const dir = standIns({ entrypoint: "exit 0" });
        const script = postgresStartScript({ dirs: [`${dir}/data/run`, `${dir}/data/spool`], entrypoint: ["entrypoint", "postgres"] });
        expect(spawnSync("/bin/sh", ["-c", script], { env: { PATH: `${dir}/bin:/usr/bin:/bin` } }).status).toBe(0);
        expect(existsSync(`${dir}/data/spool`)).toBe(true);
        expect(calls(dir)).toEqual(["entrypoint postgres"]);
    });
});

describe("the restore before PostgreSQL starts", () => {
    const t = (iso: string) => Date.parse(iso) / 1000;
    const backups = [
        { label: "20261201-010000F", type: "full", timestamp: { start: t("2026-12-01T01:00:00Z"), stop: t("2026-12-01T01:10:00Z") }, annotation: { "flowviz-wal-gap": "000000010000000000000009-00000001000000000000000C" } },
        { label: "20261201-010000F_20261202-010000D", type: "diff", timestamp: { start: t("2026-12-02T01:00:00Z"), stop: t("2026-12-02T01:05:00Z") } },
        { label: "20261203-120000F", type: "full", timestamp: { start: t("2026-12-03T12:00:00Z"), stop: t("2026-12-03T12:20:00Z") } },
    ];
    const info = (b: unknown[]) => JSON.stringify([{ backup: b, archive: [{ max: "000000010000000000000042" }] }]);
    /** restore.sh against a stand-in pgbackrest; `restore` is killed midway when `dies` */
    const run = (target: string, o: { backups?: unknown[]; volume?: "empty" | "cluster" | "begun" | "done"; dies?: boolean } = {}) => {
        const restoreBody = o.dies ? "kill -9 $$" : "exit 0";
        const dir = standIns({ pgbackrest: `case "$*" in *info*) echo '${info(o.backups ?? backups)}' ;; *restore*) ${restoreBody} ;; esac` });
        mkdirSync(join(dir, "data", "pgdata"), { recursive: true });
        if (o.volume === "cluster" || o.volume === "begun") writeFileSync(join(dir, "data", "pgdata", "PG_VERSION"), "17\n");
        if (o.volume === "begun") writeFileSync(join(dir, "data", "restoring-r1"), "");
        if (o.volume === "done") writeFileSync(join(dir, "data", "restored-r1"), "");
        const script = restoreScript({ command: "pgbackrest --stanza=flowviz", dataDir: `${dir}/data/pgdata`, dataMount: `${dir}/data`, restore: { id: "r1", target } });
        const r = spawnSync("/bin/sh", ["-c", script], { env: { PATH: `${dir}/bin:/usr/bin:/bin` }, encoding: "utf8" });
        const restores = calls(dir).filter((c) => c.includes(" restore"));
        return { status: r.status, stderr: r.stderr, restores, done: existsSync(join(dir, "data", "restored-r1")), begun: existsSync(join(dir, "data", "restoring-r1")) };
    };

    it("restores an empty volume once, closed to clients until it promotes, and marks it done", () => {
        const first = run("latest");
        expect(first).toMatchObject({ status: 0, done: true });
        expect(first.restores).toEqual(["pgbackrest --stanza=flowviz restore --type=default --recovery-option=hot_standby=off"]);
        expect(run("latest", { volume: "done" })).toMatchObject({ status: 0, restores: [] });
    });

    it("resumes a restore stopped midway with --delta, and a killed one is left begun, not done", () => {
        expect(run("latest", { dies: true })).toMatchObject({ done: false, begun: true });
        const resumed = run("latest", { volume: "begun" });
        expect(resumed.status).toBe(0);
        expect(resumed.stderr).toContain("resuming it");
        expect(resumed.restores).toEqual(["pgbackrest --stanza=flowviz restore --delta --type=default --recovery-option=hot_standby=off"]);
    });

    it("never restores over a volume that holds a cluster it did not begin", () => {
        const r = run("latest", { volume: "cluster" });
        expect(r).toMatchObject({ status: 1, restores: [], begun: false });
        expect(r.stderr).toContain("already holds a cluster; refusing to restore over it");
    });

    it("refuses, changing nothing, a target the repository cannot reach, naming the oldest and newest points", () => {
        const early = run("2026-11-30T23:00:00Z");
        expect(early).toMatchObject({ status: 1, restores: [], begun: false });
        expect(early.stderr).toContain("restore r1: refused, nothing changed: the target 2026-11-30 23:00:00 UTC is outside what the repository can reach: from 2026-12-01 01:10:00 UTC (the end of its oldest backup, 20261201-010000F) to now");
        expect(early.stderr).toContain("its newest backup 20261203-120000F ended 2026-12-03 12:20:00 UTC, WAL archived up to segment 000000010000000000000042");
        expect(run("2099-01-01T00:00:00Z")).toMatchObject({ status: 1, restores: [] });
        const empty = run("latest", { backups: [] });
        expect(empty).toMatchObject({ status: 1, restores: [] });
        expect(empty.stderr).toContain("the repository holds no backup to restore from");
    });

    it("refuses a time target that may lie in a marked WAL gap, naming the gap, both backups and the times to choose from", () => {
        const inGap = run("2026-12-02T08:00:00Z");
        expect(inGap).toMatchObject({ status: 1, restores: [] });
        expect(inGap.stderr).toContain("restore r1: refused, nothing changed: the archive has a WAL gap (segments 000000010000000000000009-00000001000000000000000C, dropped while the repository was unreachable) after full backup 20261201-010000F, which ended 2026-12-01 01:10:00 UTC");
        expect(inGap.stderr).toContain("Choose a target before 2026-12-01 01:10:00 UTC or after 2026-12-03 12:20:00 UTC");
        for (const fine of ["2026-12-03T13:00:00Z", "2026-12-04T00:00:00Z", "latest", "lsn:0/3000060"]) expect(run(fine), fine).toMatchObject({ status: 0, done: true });
    });
});
