import { spawnSync } from "node:child_process";
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

describe("the README's commands", () => {
    it("says what to do with encryptionsalt and how a team shares a stack's passphrase", () => {
        const readme = readFileSync(join(ROOT, "README.md"), "utf8");
        expect(readme).toMatch(/encryptionsalt[^\n]*\n?[^\n]*commit it/);
        expect(readme).toContain("A team shares one passphrase\nper stack");
    });

    it("write their reports outside the working tree or where git ignores them (a next diff finds no uncommitted change)", () => {
        const readme = readFileSync(join(ROOT, "README.md"), "utf8");
        const outs = [...readme.matchAll(/--out (\S+)/g)].map((m) => m[1]!.replace(/[`)]+$/, "")).filter((p) => !p.startsWith("<"));
        expect(outs.length).toBeGreaterThan(0);
        for (const out of outs) {
            if (out.startsWith("/")) continue;
            const ignored = spawnSync("git", ["check-ignore", "-q", out], { cwd: ROOT }).status === 0;
            expect(ignored, `${out} would be an untracked file in the repository`).toBe(true);
        }
    });
});
