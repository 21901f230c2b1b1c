/** What `npm run diff` says when the arguments PostgreSQL's cluster was initialised with change (data checksums added to an existing stack). */
import { describe, expect, it } from "vitest";
import { compareResources, type Snapshot } from "../../diff/compare";
import { findings } from "../../diff/consequences";
import type { RecordedResource } from "../../render/program";
import { runStack } from "../helpers";

/** The render as a stack deployed before --data-checksums was its default would have it. */
function withoutChecksums(resources: RecordedResource[]): RecordedResource[] {
    return JSON.parse(JSON.stringify(resources).replace(/ --data-checksums/g, ""));
}

describe("npm run diff on initdb's arguments", () => {
    it.each([
        ["test/fixtures/good/prod-statefulset.yaml", "StatefulSet"],
        ["Pulumi.dev.yaml", "Container"],
    ])("%s: a cluster that predates --data-checksums keeps running without them, and the note names the alert and the runbook", async (stack, kind) => {
        const head = await runStack(stack, { stack: "review" });
        const fs = findings(compareResources(withoutChecksums(head.resources), head.resources).changes, { resources: head.resources } as Snapshot);
        const notes = fs.filter((f) => f.kind === "note" && f.message.startsWith("POSTGRES_INITDB_ARGS"));
        expect(notes).toHaveLength(1);
        expect(notes[0]!.resource).toContain(kind);
        expect(notes[0]!.message).toContain("initdb runs only on an empty volume");
        expect(notes[0]!.message).toContain("PostgresDataChecksumsOff");
        // nothing to say when the arguments stay
        expect(findings(compareResources(head.resources, head.resources).changes, { resources: head.resources } as Snapshot).filter((f) => f.message.startsWith("POSTGRES_INITDB_ARGS"))).toEqual([]);
    });
});
