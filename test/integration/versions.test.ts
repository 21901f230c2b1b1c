/** The servers the suite runs are on the release lines stack/versions.ts says are tested (docs/VERSIONS.md). */
import { describe, expect, it } from "vitest";
import { TESTED_VERSIONS, onLine } from "../../stack/versions";
import { BINARIES, versionLine, versionNumber, type Binary } from "../binaries";

describe("tested versions", () => {
    for (const v of TESTED_VERSIONS.filter((x) => x.tested)) {
        it(`${v.component}: the binary is on the tested line ${v.tested!.line}`, () => {
            expect(Object.keys(BINARIES)).toContain(v.tested!.binary);
            const line = versionLine(v.tested!.binary as Binary);
            expect(onLine(versionNumber(line), v.tested!.line), line).toBe(true);
        });
    }
});
