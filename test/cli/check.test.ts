/** The editor schema of the stack file and `npm run check`, as a reviewer and an editor use them. */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import Ajv from "ajv";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { ROOT } from "../root";

const schema = JSON.parse(readFileSync(join(ROOT, "schema/stack.schema.json"), "utf8"));
// Editors validate formats loosely; so does this check (the loader itself is stricter).
const validate = new Ajv({ allErrors: true, strict: false, validateFormats: false }).compile(schema);
const yaml = (path: string) => parse(readFileSync(join(ROOT, path), "utf8"));
const good = ["Pulumi.dev.yaml", "Pulumi.prod.yaml", "test/integration/Pulumi.local.yaml", ...readdirSync(join(ROOT, "test/fixtures/good")).map((f) => `test/fixtures/good/${f}`)];

describe("schema/stack.schema.json, for editors", () => {
    it.each(good)("accepts %s", (path) => {
        expect(validate(yaml(path)), JSON.stringify(validate.errors)).toBe(true);
    });

    it.each([
        ["test/fixtures/bad/unknown-key.yaml", "maxClientConnections"],
        ["test/fixtures/bad/unknown-top-level.yaml", "flowviz:grafanaPassword"],
        ["test/fixtures/bad/bad-platform.yaml", "platform"],
        ["test/fixtures/bad/latest-image.yaml", "image"],
        ["test/fixtures/bad/zero-durations.yaml", ""],
        ["test/fixtures/bad/plaintext-secret.yaml", "postgresPassword"],
    ])("underlines %s", (path, mentioned) => {
        expect(validate(yaml(path))).toBe(false);
        expect(JSON.stringify(validate.errors)).toContain(mentioned);
    });

    it("is referenced by every committed stack file's modeline", () => {
        for (const path of good.filter((p) => !p.includes("fixtures"))) {
            const first = readFileSync(join(ROOT, path), "utf8").split("\n")[0]!;
            const target = /^# yaml-language-server: \$schema=(\S+)$/.exec(first)?.[1];
            expect(target, path).toBeDefined();
            expect(join(ROOT, path, "..", target!)).toBe(join(ROOT, "schema/stack.schema.json"));
        }
    });
});

const check = (args: string[]) => {
    try {
        return { code: 0, out: execFileSync("node", ["--import", "tsx", "scripts/check.ts", ...args], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }) };
    } catch (e) {
        const err = e as { status: number; stdout: string; stderr: string };
        return { code: err.status, out: err.stdout + err.stderr };
    }
};

describe("npm run check", () => {
    it("prints the derived budgets of a valid stack and exits 0", () => {
        const r = check(["--stack", "prod"]);
        expect(r.code).toBe(0);
        expect(r.out).toContain("prod (kubernetes): configuration valid");
        expect(r.out).toContain("PgBouncer pool per replica: 16 + reserve 4, 2 replica(s) (4 cores x 8 round trips / 2)");
        expect(r.out).toMatch(/server connections: .* = 60 of max_connections 200 - 3 reserved - 5 admin = 192/);
        expect(r.out).toMatch(/PostgreSQL memory: .* = 4160Mi of 8Gi/);
    });

    it("prints every problem, no stack trace, and exits 1", () => {
        const r = check(["--stack", "bad", "--config-file", "test/fixtures/bad/memory-over-limit.yaml"]);
        expect(r.code).toBe(1);
        expect(r.out).toContain("2 configuration problems");
        expect(r.out).toContain("flowviz:postgres.resources.memory: is 2Gi");
        expect(r.out).not.toMatch(/\n\s+at /);
    });

    it("exits 1 with a usage line without --stack, and names a missing file", () => {
        expect(check([]).code).toBe(1);
        const r = check(["--stack", "nope"]);
        expect(r.code).toBe(1);
        expect(r.out).toContain("Pulumi.nope.yaml: cannot read the stack file");
    });
});
