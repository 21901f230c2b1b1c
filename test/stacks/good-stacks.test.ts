/** Every good stack file rendered under the mocks: its files say what the stack asked for (its `# expect-rendered:` lines). */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { renderedFiles } from "../../render/files";
import { ROOT, runStack } from "../helpers";

const GOOD = join(ROOT, "test/fixtures/good");

describe("good stack files: values as the Pulumi CLI writes them", () => {
    for (const name of readdirSync(GOOD).filter((f) => f.endsWith(".yaml"))) {
        it(`${name} renders, and its files say what the stack asked for`, async () => {
            const file = join(GOOD, name);
            const expectations = readFileSync(file, "utf8")
                .split("\n")
                .filter((l) => l.startsWith("# expect-rendered: "))
                .map((l) => /^# expect-rendered: (\S+) (contains|is) (.+)$/.exec(l)!);
            expect(expectations.length).toBeGreaterThan(0);
            const files = renderedFiles((await runStack(`test/fixtures/good/${name}`)).resources);
            for (const [line, path, verb, what] of expectations) {
                const found = files.find((f) => `${f.service}/${f.path}` === path);
                expect(found, line).toBeDefined();
                if (verb === "contains") expect(found!.content, line).toContain(what);
                else expect(found!.secret, line).toBe(what === "secret");
            }
        });
    }

});
