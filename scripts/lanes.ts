/**
 * How the real-server suites share the machine: lanes that run side by side, each a network namespace of its own
 * (its own loopback: every suite keeps the fixed ports of the rendered files), the files spread longest first.
 */

/**
 * Seconds each suite took in its lane, four lanes side by side on two cores (a fresh clone's `.ci/run`, 12-07): the
 * weights the lanes are balanced by; a new suite counts as UNMEASURED.
 */
export const SUITE_SECONDS: Record<string, number> = {
    "backups.test.ts": 113,
    "monitoring.test.ts": 69,
    "cloudnative-pg.test.ts": 63,
    "drill.test.ts": 49,
    "wal-gap.test.ts": 49,
    "broker.test.ts": 45,
    "faults.test.ts": 31,
    "promtool.test.ts": 30,
    "pooler.test.ts": 28,
    "engine-move.test.ts": 26,
    "peering.test.ts": 22,
    "security.test.ts": 16,
    "ca-rotation.test.ts": 15,
    "app-driver.test.ts": 6,
    "guardrails.test.ts": 5,
    "checksums.test.ts": 5,
    "conf-reading.test.ts": 2,
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
