/** `npm run render` as a reviewer runs it: a plan and files on disk, no credential without --show-secrets. */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../root";

const OUT = "/tmp/flowviz-unit-render";
const render = (stack: string, extra: string[] = []) =>
    execFileSync("node", ["--import", "tsx", "scripts/render.ts", "--stack", stack, "--out", join(OUT, stack), ...extra], { cwd: ROOT, encoding: "utf8" });

function allFiles(dir: string): string[] {
    return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? allFiles(join(dir, e.name)) : [join(dir, e.name)]));
}

describe("npm run render", () => {
    let plan: { outputs: Record<string, unknown>; resources: unknown[] };
    let shown: { outputs: Record<string, string> };
    beforeAll(() => {
        rmSync(OUT, { recursive: true, force: true });
        render("prod");
        render("prod-shown", ["--config-file", "Pulumi.prod.yaml", "--show-secrets"]);
        plan = JSON.parse(readFileSync(join(OUT, "prod/plan.json"), "utf8"));
        shown = JSON.parse(readFileSync(join(OUT, "prod-shown/plan.json"), "utf8"));
    }, 60_000);

    it("masks every credential in plan.json and writes no secret file", () => {
        const text = readFileSync(join(OUT, "prod/plan.json"), "utf8");
        expect(plan.outputs.appDbPassword).toBe("[secret]");
        expect(shown.outputs.appDbPassword).toMatch(/^[A-Za-z0-9]{32}$/);
        expect(text).not.toContain(shown.outputs.appDbPassword);
        expect(text).not.toContain("SCRAM-SHA-256$");
        expect(existsSync(join(OUT, "prod/files/pgbouncer/userlist.txt"))).toBe(false);
        expect(existsSync(join(OUT, "prod/files/pgbouncer/pgbouncer.ini"))).toBe(true);
        for (const f of allFiles(join(OUT, "prod/files"))) expect(readFileSync(f, "utf8"), f).not.toContain(shown.outputs.appDbPassword);
    });

    it("writes the secret files, verifiers only, with --show-secrets", () => {
        const userlist = readFileSync(join(OUT, "prod-shown/files/pgbouncer/userlist.txt"), "utf8");
        expect(userlist).toMatch(/^"flowviz" "SCRAM-SHA-256\$4096:/m);
        expect(userlist).not.toContain(shown.outputs.appDbPassword);
        // what holds a credential is readable by its owner only
        const mode = (f: string) => statSync(join(OUT, f)).mode & 0o777;
        expect(mode("prod-shown/plan.json")).toBe(0o600);
        expect(mode("prod-shown/files/pgbouncer/userlist.txt")).toBe(0o600);
        expect(mode("prod-shown/files/pgbouncer/pgbouncer.ini")).toBe(0o644);
        expect(mode("prod/plan.json")).toBe(0o644);
    });

    it("fails with the problems and writes nothing for a bad stack", () => {
        let message = "";
        try {
            render("bad", ["--config-file", "test/fixtures/bad/many-problems.yaml"]);
        } catch (e) {
            message = String((e as { stderr?: string }).stderr);
        }
        expect(message).toContain("flowviz:postgres.maxConnections is 5: must be >= 20");
        expect(message).not.toMatch(/\n\s+at /);
        expect(existsSync(join(OUT, "bad"))).toBe(false);
    });

    const stderrOf = (stack: string, extra: string[]) => {
        try {
            render(stack, extra);
        } catch (e) {
            return String((e as { stderr?: string }).stderr);
        }
        throw new Error(`${stack} rendered`);
    };
    const stackFile = (name: string, text: string) => {
        mkdirSync(OUT, { recursive: true });
        writeFileSync(join(OUT, name), text);
        return join(OUT, name);
    };

    it("never deletes what it did not write: refuses a directory of notes and the working tree, replaces its own render", () => {
        const notes = join(OUT, "notes");
        mkdirSync(notes, { recursive: true });
        writeFileSync(join(notes, "todo.md"), "keep me\n");
        let message = "";
        try {
            execFileSync("node", ["--import", "tsx", "scripts/render.ts", "--stack", "dev", "--out", notes], { cwd: ROOT, encoding: "utf8", stdio: "pipe" });
        } catch (e) {
            message = String((e as { stderr?: string }).stderr);
        }
        expect(message).toContain("holds files no render wrote");
        expect(readFileSync(join(notes, "todo.md"), "utf8")).toBe("keep me\n");
        for (const dir of [".", ".."]) {
            try {
                execFileSync("node", ["--import", "tsx", "scripts/render.ts", "--stack", "dev", "--out", dir], { cwd: ROOT, encoding: "utf8", stdio: "pipe" });
                throw new Error(`rendered into ${dir}`);
            } catch (e) {
                expect(String((e as { stderr?: string }).stderr)).toContain("is the working directory or contains it");
            }
        }
        expect(existsSync(join(ROOT, "package.json"))).toBe(true);
        // an earlier render (it has the marker) is replaced
        writeFileSync(join(OUT, "prod/stale.txt"), "from an older render\n");
        render("prod");
        expect(existsSync(join(OUT, "prod/stale.txt"))).toBe(false);
        expect(existsSync(join(OUT, "prod/.flowviz-render"))).toBe(true);
    });

    it("names the file and the line of a stack file that is not YAML, without a stack trace", () => {
        const message = stderrOf("broken", ["--config-file", stackFile("broken.yaml", "config:\n  flowviz:platform: [docker\n")]);
        expect(message).toMatch(/broken\.yaml: not valid YAML: .* at line 3, column 1\n/);
        // the lines around the mistake, with the parser's caret
        expect(message).toContain("      flowviz:platform: [docker\n");
        expect(message).toMatch(/\n\s+\^/);
        expect(message).not.toMatch(/\n\s+at /);
    });

    it("says which stack file is missing, without a stack trace", () => {
        const message = stderrOf("missing", ["--config-file", join(OUT, "no-such-stack.yaml")]);
        expect(message).toContain("no-such-stack.yaml: cannot read the stack file (ENOENT)");
        expect(message).not.toMatch(/\n\s+at /);
    });

    it("treats secure: values as set secrets, with a stand-in in place of the ciphertext", () => {
        const file = stackFile(
            "encrypted.yaml",
            [
                "config:",
                "  flowviz:platform: docker",
                "  flowviz:monitoring:",
                "    receivers:",
                "      email: { to: oncall@example.com, from: alertmanager@example.com, smarthost: smtp.example.com:587 }",
                "  flowviz:alertmanagerSmtpPassword:",
                "    secure: v1:AAAABBBBCCCC",
                "",
            ].join("\n"),
        );
        render("encrypted", ["--config-file", file, "--show-secrets"]);
        const alertmanager = readFileSync(join(OUT, "encrypted/files/alertmanager/alertmanager.yml"), "utf8");
        expect(alertmanager).toMatch(/auth_password: render-stand-in-for-alertmanagerSmtpPassword-[0-9a-f]{8}\n/);
        expect(alertmanager).not.toContain("v1:AAAABBBBCCCC");
    });
});
