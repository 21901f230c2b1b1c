/**
 * What every bench does with its numbers: the median of its rounds, the machine it ran on, its results file written
 * and docs/BENCHMARKS.md regenerated from every bench's last results; and a docs section reading a results file.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { versionLine, type Binary } from "../test/binaries";
import { ROOT } from "../test/root";

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The p-th percentile (0-100) by nearest rank; NaN of nothing. */
export function percentile(xs: number[], p: number): number {
    if (xs.length === 0) return NaN;
    const sorted = [...xs].sort((a, b) => a - b);
    return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** `2 cores (model), <version line of each server>` */
export const machineOf = (...servers: Binary[]) => `${cpus().length} cores (${cpus()[0]?.model.trim()}), ${servers.map(versionLine).join("; ")}`;

/** The results (with when they were measured) to `file`, then docs/BENCHMARKS.md again. */
export function saveResults(file: string, results: object): void {
    writeFileSync(file, JSON.stringify({ when: new Date().toISOString(), ...results }, null, 2) + "\n");
    regenerateDocs();
}

export const regenerateDocs = () => execFileSync("npx", ["tsx", "bench/run.ts", "--docs-only"], { cwd: ROOT, stdio: "inherit" });

/** A bench's last results, or nothing before its first run. */
export const lastResults = <T>(file: string): T | undefined => (existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as T) : undefined);
