import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { secondsOf, spreadOverLanes, SUITE_SECONDS, UNMEASURED } from "../../scripts/lanes";
import { ROOT } from "../root";

const suites = readdirSync(join(ROOT, "test/integration")).filter((f) => f.endsWith(".test.ts")).map((f) => `test/integration/${f}`);
const laneSeconds = (lane: string[]) => lane.reduce((s, f) => s + secondsOf(f), 0);

describe("the real-server suites over lanes", () => {
    it("knows how long every suite on disk takes, and lists none that is gone", () => {
        const names = suites.map((f) => f.split("/").pop()!);
        expect(names.filter((n) => !(n in SUITE_SECONDS)), "suites without a measured time").toEqual([]);
        expect(Object.keys(SUITE_SECONDS).filter((n) => !names.includes(n)), "measured suites that are gone").toEqual([]);
    });

    it.each([1, 2, 3, 4, 25])("puts every suite in exactly one of %i lane(s), none empty", (n) => {
        const lanes = spreadOverLanes(suites, n);
        expect(lanes.length).toBe(Math.min(n, suites.length));
        expect(lanes.flat().sort()).toEqual([...suites].sort());
        expect(lanes.every((l) => l.length > 0)).toBe(true);
    });

    it("balances three lanes within a third of the ideal (the longest-first bound), longest suites first in each", () => {
        const lanes = spreadOverLanes(suites, 3);
        const total = suites.reduce((s, f) => s + secondsOf(f), 0);
        const ideal = Math.max(total / 3, ...suites.map(secondsOf));
        expect(Math.max(...lanes.map(laneSeconds))).toBeLessThanOrEqual((4 / 3) * ideal);
        for (const lane of lanes) expect(lane.map(secondsOf)).toEqual([...lane.map(secondsOf)].sort((a, b) => b - a));
    });

    it("counts a suite it has not measured as UNMEASURED seconds", () => {
        expect(secondsOf("test/integration/new-suite.test.ts")).toBe(UNMEASURED);
        const lanes = spreadOverLanes(["a.test.ts", "b.test.ts", "backups.test.ts"], 2);
        expect(lanes).toEqual([["backups.test.ts"], ["a.test.ts", "b.test.ts"]]);
    });

    it.each([0, -1, 1.5, Number.NaN])("refuses %s lanes", (n) => {
        expect(() => spreadOverLanes(suites, n)).toThrow(/whole number of at least 1/);
    });
});
