/**
 * The policy pack imports nothing a change to the program can edit: its modules import only the
 * pack's own files and the facts below both (facts/), which import nothing of the program.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../root";

/** The repository files a module imports (relative specifiers, resolved to .ts). */
function localImports(file: string): string[] {
    const text = readFileSync(join(ROOT, file), "utf8");
    return [...text.matchAll(/(?:import|export)[^;]*?from\s+"(\.[^"]+)"/g)].map((m) => normalize(join(dirname(file), m[1]!)) + ".ts");
}

/** Every repository file reachable from `entry` by its imports. */
function closure(entry: string): string[] {
    const seen = new Set<string>();
    const next = [entry];
    while (next.length) {
        const f = next.pop()!;
        if (seen.has(f)) continue;
        seen.add(f);
        next.push(...localImports(f));
    }
    return [...seen].sort();
}

describe("the policy pack's imports", () => {
    it("reach only policy/ and facts/ from the pack's entry point", () => {
        const reached = closure("policy/index.ts");
        expect(reached.length).toBeGreaterThan(8);
        expect(reached.filter((f) => !f.startsWith("policy/") && !f.startsWith("facts/"))).toEqual([]);
    });

    it("facts/ imports nothing of the repository but facts/", () => {
        for (const f of readdirSync(join(ROOT, "facts")).map((n) => `facts/${n}`)) {
            expect(localImports(f).filter((i) => !i.startsWith("facts/")), f).toEqual([]);
        }
    });

    it("the check can fail: the offline runner reaches the renderer", () => {
        expect(closure("render/policy-check.ts").some((f) => f.startsWith("render/") && f !== "render/policy-check.ts")).toBe(true);
    });
});
