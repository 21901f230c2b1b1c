import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadStackConfig } from "../../stack/load";
import { TESTED_VERSIONS, imageVersion, onLine } from "../../stack/versions";
import { BINARIES } from "../binaries";
import { ROOT } from "../helpers";

const defaults = loadStackConfig("flowviz", "versions", { "flowviz:platform": "docker" }, () => false).config;
/** the Debian 13 packages scripts/servers.sh installs */
const packages = /PACKAGES=\(([^)]*)\)/.exec(readFileSync(join(ROOT, "scripts/servers.sh"), "utf8"))![1]!.split(/\s+/).filter(Boolean);

describe("the versions we deploy are the versions we test", () => {
    for (const v of TESTED_VERSIONS) {
        const image = v.image(defaults);
        it(`${v.component}: ${image} is on its tested line, or its exception says why not`, () => {
            const version = imageVersion(image);
            expect(version, `no version in the tag of ${image}`).toBeDefined();
            if (!v.tested) return expect(v.exception).toMatch(/.{20,}/);
            const same = onLine(version!, v.tested.line);
            // an exception that no longer applies is removed, so that the next drift is caught
            if (v.exception) expect(same, `${v.component}: the exception is stale (${image} is on ${v.tested.line})`).toBe(false);
            else expect(same, `${image} is not on the tested line ${v.tested.line}: test the new line or declare an exception`).toBe(true);
            expect(packages).toContain(v.tested.package);
            expect(Object.keys(BINARIES)).toContain(v.tested.binary);
        });
    }

    it("reads versions from image tags and compares release lines", () => {
        expect(imageVersion("postgres:17.12-trixie")).toBe("17.12");
        expect(imageVersion("registry.example.com:5000/prom/prometheus:v2.53.5@sha256:" + "a".repeat(64))).toBe("2.53.5");
        expect(imageVersion("edoburu/pgbouncer:v1.25.1-p0")).toBe("1.25.1");
        expect(imageVersion("postgres@sha256:" + "a".repeat(64))).toBeUndefined();
        expect(onLine("17.13", "17")).toBe(true);
        expect(onLine("2.53.5", "2.53")).toBe(true);
        expect(onLine("2.54.0", "2.53")).toBe(false);
        expect(onLine("1.2", "1.24")).toBe(false);
    });
});
