/**
 * postgres.cloudnativePg.fromStatefulSet on the real servers (test/integration/engine-move.ts): a
 * StatefulSet-engine PostgreSQL taking writes through PgBouncer is cloned and followed by the
 * stage's Cluster, then switched as the `switch` stage does it (fast shutdown, promotion at once,
 * PgBouncer moved), and every row acknowledged before, during and after is on the new server.
 */
import { describe, expect, it } from "vitest";
import { moveEngine, type MoveResult } from "./engine-move";

describe("moving from the StatefulSet engine to the Cluster, as the stages declare it", () => {
    let result: MoveResult;
    it("loses no acknowledged row: the old server's fast shutdown sends its last WAL before the promotion", async () => {
        result = await moveEngine({ base: "/tmp/flowviz-it-engine-move", writers: 20, seconds: 3, rows: 100_000, switchBy: "stage" });
        expect(result.rowsBeforeTheCopyPresent).toBe(100_000);
        expect(result.acknowledgedDuringTheMove).toBeGreaterThan(1000);
        expect(result.acknowledgedLost).toBe(0);
        expect(result.newServerIsPrimary).toBe(true);
    }, 300_000);

    it("PgBouncer stays on the StatefulSet while the Cluster streams and is on the Cluster's -rw Service after the switch; writes resume within seconds", () => {
        expect(result.pgbouncerHost).toEqual({ stream: "postgres.flowviz.svc.cluster.local", switch: "postgres-rw.flowviz.svc.cluster.local" });
        expect(result.secondsWithoutWrite).toBeLessThan(15);
    });
});
