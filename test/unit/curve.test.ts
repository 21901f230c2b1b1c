/** Capacity at the SLO (bench/curve-section.ts): the last rate before the first breach, not any rate that happens to pass; the percentile the benches share. */
import { describe, expect, it } from "vitest";
import { capacityAtSlo, type CurvePoint } from "../../bench/curve-section";
import { percentile } from "../../bench/results";

const point = (offered: number, p99_ms: number, errors = 0): CurvePoint => ({ share: offered / 1000, offered, achieved: offered, p50_ms: 1, p95_ms: 1, p99_ms, errors });

describe("capacityAtSlo", () => {
    it("is the highest offered rate before p99 first exceeds the SLO, as a share of saturation", () => {
        expect(capacityAtSlo([point(100, 5), point(500, 20), point(800, 49.9), point(900, 60)], 1000, 50)).toEqual({ tps: 800, share: 0.8 });
    });

    it("does not count a rate past the first breach that dips back under the SLO, nor one with errors", () => {
        expect(capacityAtSlo([point(100, 5), point(200, 70), point(300, 20)], 1000, 50)).toEqual({ tps: 100, share: 0.1 });
        expect(capacityAtSlo([point(100, 5), point(200, 10, 3)], 1000, 50)).toEqual({ tps: 100, share: 0.1 });
    });

    it("is none when even the lowest rate breaches it", () => {
        expect(capacityAtSlo([point(100, 80)], 1000, 50)).toBeNull();
    });
});

describe("percentile (bench/results.ts), as every bench reads its latencies", () => {
    it("is the nearest rank of the sorted values, whatever their order; NaN of nothing", () => {
        const shuffled = Array.from({ length: 100 }, (_, i) => ((i * 37) % 100) + 1);
        expect(percentile(shuffled, 50)).toBe(50);
        expect(percentile(shuffled, 99)).toBe(99);
        expect(percentile(shuffled, 100)).toBe(100);
        expect(percentile([7], 99)).toBe(7);
        expect(percentile([], 50)).toBeNaN();
    });
});
