/**
 * How the real-server suites share the machine: lanes that run side by side, each a network namespace of its own
 * (its own loopback: every suite keeps the fixed ports of the rendered files), the files spread longest first.
 */

/** Seconds each suite took alone (`scripts/servers.sh run npx vitest run --project integration`, 12-07); a new suite counts as UNMEASURED. */
export const SUITE_SECONDS: Record<string, number> = {
    "backups.test.ts": 97,
    "monitoring.test.ts": 62,
    "cloudnative-pg.test.ts": 50,
    "broker.test.ts": 48,
    "wal-gap.test.ts": 46,
    "promtool.test.ts": 34,
    "faults.test.ts": 30,
    "drill.test.ts": 26,
    "pooler.test.ts": 26,
    "engine-move.test.ts": 20,
    "ca-rotation.test.ts": 15,
    "peering.test.ts": 12,
    "security.test.ts": 9,
    "guardrails.test.ts": 8,
    "checksums.test.ts": 6,
    "app-driver.test.ts": 5,
    "conf-reading.test.ts": 1,
    "versions.test.ts": 1,
};
export const UNMEASURED = 30;

export const secondsOf = (file: string) => SUITE_SECONDS[file.split("/").pop()!] ?? UNMEASURED;

/** The files over `lanes` lanes, longest first, each to the lane that ends soonest; every lane's files in that order. */
export function spreadOverLanes(files: readonly string[], lanes: number): string[][] {
    if (!Number.isInteger(lanes) || lanes < 1) throw new Error(`lanes must be a whole number of at least 1, not ${lanes}`);
    const out = Array.from({ length: Math.min(lanes, Math.max(files.length, 1)) }, () => ({ files: [] as string[], seconds: 0 }));
    const longestFirst = [...files].sort((a, b) => secondsOf(b) - secondsOf(a) || a.localeCompare(b));
    for (const file of longestFirst) {
        const lane = out.reduce((soonest, l) => (l.seconds < soonest.seconds ? l : soonest));
        lane.files.push(file);
        lane.seconds += secondsOf(file);
    }
    return out.map((l) => l.files).filter((f) => f.length > 0);
}
