import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { generatedDocs } from "../../stack/generated-docs";
import { ROOT } from "../helpers";

describe("generated documents", () => {
    for (const [path, text] of Object.entries(generatedDocs())) {
        it(`${path} is up to date (npm run docs)`, () => {
            expect(readFileSync(join(ROOT, path), "utf8")).toBe(text);
        });
    }
    it("documents every top-level section and a nested key", () => {
        const md = generatedDocs()["docs/CONFIG.md"]!;
        for (const key of ["`platform`", "`postgres.maxConnections`", "`pgbouncer.maxClientConn`", "`app.api.dbPoolSize`", "`docker.hostPorts.grafana`", "`postgresPassword`"]) {
            expect(md).toContain(key);
        }
    });
});
