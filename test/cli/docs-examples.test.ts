/**
 * The stack files the docs show, run as a new user runs them: each ```yaml block of README.md and
 * docs/ that is a whole stack file (it has `config:`) is saved as Pulumi.<name>.yaml in a folder of
 * its own and checked with `npm run check`, before any `pulumi stack init` (no secret set yet).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../root";

const DOCS = ["README.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`), ...readdirSync(join(ROOT, "docs/runbooks")).filter((f) => f.endsWith(".md")).map((f) => `docs/runbooks/${f}`)];

/** Every yaml block that is a whole stack file, unindented, with where it was found. */
const examples = DOCS.flatMap((doc) =>
    [...readFileSync(join(ROOT, doc), "utf8").matchAll(/^( *)```yaml\n([\s\S]*?)^\1```/gm)]
        .map((m) => m[2]!.split("\n").map((l) => l.slice(m[1]!.length)).join("\n"))
        .filter((block) => /^config:/m.test(block))
        .map((block, i) => ({ doc, i, block })),
);

describe("stack files in the docs", () => {
    it("are found (the check can fail when there are none)", () => expect(examples.length).toBeGreaterThan(0));

    it.each(examples.map((e) => [`${e.doc} #${e.i + 1}`, e] as const))("%s: npm run check passes it as written, with no secret set", (_, e) => {
        const dir = mkdtempSync(join(tmpdir(), "flowviz-doc-example-"));
        const file = join(dir, "Pulumi.example.yaml");
        writeFileSync(file, e.block);
        const r = spawnSync("node", ["--import", "tsx", "scripts/check.ts", "--stack", "example", "--config-file", file], { cwd: ROOT, encoding: "utf8" });
        rmSync(dir, { recursive: true, force: true });
        expect(r.stderr + r.stdout, e.doc).toMatch(/example \((docker|kubernetes)\): configuration valid/);
        expect(r.status).toBe(0);
    });
});
