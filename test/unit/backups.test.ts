/** The backup sidecar's scheduler and PostgreSQL's start script, run by /bin/sh with stand-ins for the image's programs. */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { backupSchedulerScript, pgbackrestSize, pgbackrestTime, postgresStartScript, restoreOptions } from "../../configs/pgbackrest";
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

describe("the backup scheduler", () => {
    /** Runs the scheduler over a list of UTC minutes ("2026-12-06T01:00"), one per loop, then stops it. */
    function runOver(minutes: string[], opts: { hasBackup?: boolean; full?: string; diff?: string; certificates?: boolean } = {}): string[] {
        const fmt = (iso: string) => {
            const d = new Date(`${iso}:00Z`);
            const p = (n: number) => String(n).padStart(2, "0");
            return `${p(d.getUTCMinutes())} ${p(d.getUTCHours())} ${p(d.getUTCDate())} ${p(d.getUTCMonth() + 1)} ${d.getUTCDay()}|${d.getTime() / 1000}`;
        };
        const dir = standIns({
            // the clock: the current minute of the list (sleep moves to the next, and ends the run after the last)
            date: `line=$(sed -n "$(cat ${"$"}STATE/i)p" ${"$"}STATE/minutes); case "$*" in *%s*) echo "\${line#*|}" ;; *) echo "\${line%|*}" ;; esac`,
            sleep: `i=$(( $(cat ${"$"}STATE/i) + 1 )); echo $i > ${"$"}STATE/i; [ $i -le $(wc -l < ${"$"}STATE/minutes) ] || kill -TERM $PPID`,
            pgbackrest: opts.hasBackup === false ? 'case "$*" in *info*) echo "[]" ;; esac' : 'case "$*" in *info*) echo \'[{"backup":[{"label":"20261201-010000F"}]}]\' ;; esac',
            psql: "exit 0",
            openssl: 'case "$*" in *x509*) echo "notAfter=Mar  4 08:00:00 2027 GMT" ;; esac',
        });
        writeFileSync(join(dir, "minutes"), minutes.map(fmt).join("\n") + "\n");
        writeFileSync(join(dir, "i"), "1\n");
        const script = backupSchedulerScript({
            command: "pgbackrest --stanza=flowviz",
            psql: "psql",
            full: cronFields(opts.full ?? "0 1 * * 0"),
            diff: cronFields(opts.diff ?? "0 1 * * 1-6"),
            checkEveryMinutes: 5,
            certificates: [
                { name: "pgbouncer", host: "pgbouncer", port: 6432, protocol: "postgres" },
                { name: "valkey", host: "valkey", port: 6379, protocol: "tls" },
            ],
        });
        spawnSync("/bin/sh", ["-c", script], { env: { PATH: `${dir}/bin:/usr/bin:/bin`, STATE: dir }, encoding: "utf8", timeout: 20_000 });
        return calls(dir).filter((c) => (c.startsWith("pgbackrest") && !c.includes(" info")) || (opts.certificates === true && c.startsWith("openssl s_client")));
    }

    it("creates the stanza and checks the archive first, then takes the backup each minute's schedule asks for (full wins)", () => {
        // Sunday 01:00 (full), Monday 01:00 (diff), Monday 01:01 (nothing), Saturday 01:00 (diff); a fifth minute also checks the repository
        const runs = runOver(["2026-12-06T01:00", "2026-12-07T01:00", "2026-12-07T01:01", "2026-12-12T01:00"]);
        expect(runs).toEqual([
            "pgbackrest --stanza=flowviz stanza-create",
            "pgbackrest --stanza=flowviz check",
            "pgbackrest --stanza=flowviz backup --type=full",
            "pgbackrest --stanza=flowviz repo-ls",
            "pgbackrest --stanza=flowviz backup --type=diff",
            "pgbackrest --stanza=flowviz repo-ls",
            "pgbackrest --stanza=flowviz backup --type=diff",
            "pgbackrest --stanza=flowviz repo-ls",
        ]);
    });

    it("takes a full backup at once when the repository has none, and checks the repository every fifth minute", () => {
        const runs = runOver(["2026-12-09T13:04", "2026-12-09T13:05"], { hasBackup: false });
        expect(runs).toEqual([
            "pgbackrest --stanza=flowviz stanza-create",
            "pgbackrest --stanza=flowviz check",
            "pgbackrest --stanza=flowviz backup --type=full",
            "pgbackrest --stanza=flowviz repo-ls",
        ]);
    });

    it("reads each server's certificate at start and with every repository check: STARTTLS for PostgreSQL's protocol, plain TLS for Valkey", () => {
        const reads = runOver(["2026-12-07T01:01", "2026-12-07T01:05"], { certificates: true }).filter((c) => c.startsWith("openssl"));
        expect(reads).toEqual([
            "openssl s_client -connect pgbouncer:6432 -servername pgbouncer -starttls postgres",
            "openssl s_client -connect valkey:6379 -servername valkey",
            "openssl s_client -connect pgbouncer:6432 -servername pgbouncer -starttls postgres",
            "openssl s_client -connect valkey:6379 -servername valkey",
        ]);
    });

    it("reads cron's day rule: day of month OR day of week when both are restricted", () => {
        // the 1st of the month, or any Friday, at 02:30
        const runs = runOver(["2026-12-01T02:30", "2026-12-04T02:30", "2026-12-05T02:30"], { full: "30 2 1 * 5", diff: "0 0 1 1 *" });
        expect(runs.filter((r) => r.includes("backup"))).toEqual(["pgbackrest --stanza=flowviz backup --type=full", "pgbackrest --stanza=flowviz backup --type=full"]);
    });
});

describe("schedules", () => {
    it("accepts five-field cron only", () => {
        expect(["0 1 * * 0", "*/15 * * * *", "30 2 1 * 5", "0 1 * * 7"].every(isCron)).toBe(true);
        expect(["0 25 * * 0", "daily", "0 1 * *", "0 0 1 * * *", "61 * * * *"].some(isCron)).toBe(false);
    });
    it("finds the longest gap between runs, over several schedules", () => {
        expect(longestGapSeconds(["0 1 * * 0"])).toBe(7 * 86400);
        expect(longestGapSeconds(["0 1 * * 0", "0 1 * * 1-6"])).toBe(86400);
        // the 1st of each month: the longest month
        expect(longestGapSeconds(["0 0 1 * *"])).toBe(31 * 86400);
    });
});

describe("pgBackRest's words for the stack's values", () => {
    it("writes sizes and restore targets as pgBackRest reads them", () => {
        expect(pgbackrestSize("4Gi")).toBe("4GB");
        expect(pgbackrestSize("1536Mi")).toBe("1536MB");
        expect(pgbackrestTime("2026-12-04T10:15:00.5Z")).toBe("2026-12-04 10:15:00.5+00");
        expect(pgbackrestTime("2026-12-04T10:15:00+05:30")).toBe("2026-12-04 10:15:00+0530");
        expect(restoreOptions("latest")).toEqual(["--type=default"]);
        expect(restoreOptions("lsn:0/3000060")).toEqual(["--type=lsn", "--target=0/3000060", "--target-action=promote"]);
    });
});

describe("PostgreSQL's start script", () => {
    const run = (opts: { restore?: boolean; pgVersion?: boolean; marker?: boolean }) => {
        const dir = standIns({ pgbackrest: "exit 0", entrypoint: "exit 0" });
        mkdirSync(join(dir, "data", "pgdata"), { recursive: true });
        if (opts.pgVersion) writeFileSync(join(dir, "data", "pgdata", "PG_VERSION"), "17\n");
        if (opts.marker) writeFileSync(join(dir, "data", "restored-r1"), "");
        const script = postgresStartScript({ command: "pgbackrest --stanza=flowviz", dataDir: `${dir}/data/pgdata`, dirs: [`${dir}/data/run`], restore: opts.restore ? { id: "r1", target: "latest" } : undefined, entrypoint: ["entrypoint", "postgres"] });
        const r = spawnSync("/bin/sh", ["-c", script], { env: { PATH: `${dir}/bin:/usr/bin:/bin` }, encoding: "utf8" });
        return { status: r.status, stderr: r.stderr, calls: calls(dir) };
    };
    it("restores an empty volume once, then starts PostgreSQL", () => {
        expect(run({ restore: true }).calls).toEqual(["pgbackrest --stanza=flowviz restore --type=default", "entrypoint postgres"]);
        expect(run({ restore: true, marker: true }).calls).toEqual(["entrypoint postgres"]);
        expect(run({}).calls).toEqual(["entrypoint postgres"]);
    });
    it("never restores over a volume that holds a cluster", () => {
        const r = run({ restore: true, pgVersion: true });
        expect(r.status).toBe(1);
        expect(r.stderr).toContain("already holds a cluster; refusing to restore over it");
    });
});
