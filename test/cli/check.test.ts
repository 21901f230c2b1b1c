/** The editor schema of the stack file and `npm run check`, as a reviewer and an editor use them. */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
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

/** A command's answer, run once per file for the same arguments and environment: several tests read the same run. */
function once<A extends unknown[], T>(run: (...args: A) => T): (...args: A) => T {
    const answers = new Map<string, T>();
    return (...args) => {
        const key = JSON.stringify(args);
        if (!answers.has(key)) answers.set(key, run(...args));
        return answers.get(key)!;
    };
}

const check = once((args: string[]): { code: number; out: string } => {
    try {
        return { code: 0, out: execFileSync("node", ["--import", "tsx", "scripts/check.ts", ...args], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }) };
    } catch (e) {
        const err = e as { status: number; stdout: string; stderr: string };
        return { code: err.status, out: err.stdout + err.stderr };
    }
});

describe("npm run check", () => {
    it("prints the derived budgets of a valid stack and exits 0", () => {
        const r = check(["--stack", "prod", "--config-file", "test/fixtures/good/prod-statefulset.yaml"]);
        expect(r.code).toBe(0);
        expect(r.out).toContain("prod (kubernetes): configuration valid");
        expect(r.out).toContain("PgBouncer pool per replica: 16 + reserve 4, 2 replica(s) (4 cores x 8 round trips / 2)");
        expect(r.out).toMatch(/server connections: 2 PgBouncer x \(pool 16 \+ reserve 4\) = 40 of max_connections 200 - 3 reserved - 5 admin = 192/);
        expect(r.out).toMatch(/PostgreSQL memory: .* = 4160Mi of 8Gi/);
        expect(r.out).toMatch(/connections: \d+ read from the rendered files .*, each allowed by its NetworkPolicies/);
        expect(r.out).toContain("backup credentials: web identity (the backup pods' ServiceAccount: eks.amazonaws.com/role-arn=arn:aws:iam::123456789012:role/flowviz-prod-backups; STS on 443)");
    });

    it("says where a move from the StatefulSet engine stands, and keeps quiet about the pgBackRest settings its StatefulSet still reads", () => {
        const r = check(["--stack", "prod", "--config-file", "test/fixtures/good/prod-migrating.yaml"]);
        expect(r.code, r.out).toBe(0);
        expect(r.out).toContain("MOVE from the StatefulSet engine, stage stream: the StatefulSet serves (PgBouncer -> postgres); the Cluster is cloned from it and streams.");
        expect(r.out).not.toContain("postgres.backups.image is set but ignored");
    });

    it("prints a CloudNativePG stack's Cluster, the operator's connections and its Barman Cloud backups", () => {
        const r = check(["--stack", "prod"]);
        expect(r.code).toBe(0);
        expect(r.out).toContain("PostgreSQL: CloudNativePG Cluster, 3 instances on different nodes and zones; every commit waits for 1 standby (ANY 1, dataDurability required)");
        expect(r.out).toContain("operator's own connections: instance manager 3 + metrics exporter 6 = 9 of postgres.adminConnections 11");
        expect(r.out).toMatch(/backups: Barman Cloud to s3 flowviz-prod-backups .* recovery window 7 days/);
        expect(r.out).not.toContain("differential");
    });

    it("prints every problem, no stack trace, and exits 1", () => {
        const r = check(["--stack", "bad", "--config-file", "test/fixtures/bad/memory-over-limit.yaml"]);
        expect(r.code).toBe(1);
        expect(r.out).toContain("2 configuration problems");
        expect(r.out).toContain("flowviz:postgres.resources.memory: is 2Gi");
        expect(r.out).not.toMatch(/\n\s+at /);
    });

    it("exits 2 with a usage line without --stack, and 1 naming a missing file", () => {
        expect(check([]).code).toBe(2);
        const r = check(["--stack", "nope"]);
        expect(r.code).toBe(1);
        expect(r.out).toContain("Pulumi.nope.yaml: cannot read the stack file");
    });
});

describe("flag mistakes, as typed by reflex", () => {
    const run = once((script: string, args: string[], env: Record<string, string> = {}) => {
        const r = spawnSync("node", ["--import", "tsx", `scripts/${script}.ts`, ...args], { cwd: ROOT, encoding: "utf8", env: { ...process.env, ...env } });
        return { code: r.status, out: r.stdout, err: r.stderr };
    });
    const noTrace = (text: string) => expect(text).not.toMatch(/\n\s+at /);

    it("warns a Kubernetes stack without a StorageClass before anything exists, not a Docker one", () => {
        expect(check(["--stack", "prod"]).out).toContain("note: kubernetes.storageClassName is unset");
        expect(run("check", ["-s", "dev"]).out).not.toContain("storageClassName");
        // node-exporter's host port: one bundled stack per cluster
        expect(check(["--stack", "prod"]).out).toContain("note: bundled monitoring brings its own node-exporter on host port 9100 of every node");
        expect(check(["--stack", "prod", "--config-file", "test/fixtures/good/prod-operator.yaml"]).out).not.toContain("node-exporter");
    });

    it("takes -s for --stack, as Pulumi does", () => {
        const r = run("check", ["-s", "dev"]);
        expect(r.code, r.err).toBe(0);
        expect(r.out).toContain("dev (docker): configuration valid");
    });

    it.each([
        ["render", ["--stack", "dev", "--out", "/tmp/x", "--show-secret"], "Unknown option '--show-secret'"],
        ["render", ["--stack", "dev", "--out"], "Option '--out <value>' argument missing"],
        ["check", ["--stak", "dev"], "Unknown option '--stak'"],
    ])("%s %j: names the mistake, prints the usage line, exits 2", (script, args, message) => {
        const r = run(script, args);
        expect(r.code).toBe(2);
        expect(r.err).toContain(message);
        expect(r.err).toContain(`usage: npm run ${script} -- --stack <name>`);
        noTrace(r.err);
    });

    it("names the settings the engine ignores, and leaves out what the stack does not deploy", () => {
        // prod with settings only the StatefulSet engine reads
        const dir = mkdtempSync(join(tmpdir(), "flowviz-ignored-"));
        const file = join(dir, "Pulumi.prod.yaml");
        const prod = readFileSync(join(ROOT, "Pulumi.prod.yaml"), "utf8");
        const withThem = prod.replace("    backups:\n      s3:", '    backups:\n      image: ghcr.io/flowviz/postgres-pgbackrest:17.12-trixie-2.55.1\n      schedule:\n        diff: "0 1 * * 1-6"\n      s3:');
        expect(withThem).not.toBe(prod);
        writeFileSync(file, withThem);
        const ignored = check(["--stack", "prod", "--config-file", file]);
        rmSync(dir, { recursive: true, force: true });
        expect(ignored.code).toBe(0);
        expect(ignored.out).toContain("note: postgres.backups.image, postgres.backups.schedule.diff are set but ignored: postgres.engine cloudnative-pg backs up with the Barman Cloud plugin");
        expect(check(["--stack", "prod"]).out).not.toContain("ignored");
        // operator mode deploys no Prometheus of ours
        const operator = check(["--stack", "prod", "--config-file", "test/fixtures/good/prod-operator.yaml"]);
        expect(operator.code).toBe(0);
        expect(operator.out).not.toContain("Prometheus disk");
        expect(check(["--stack", "prod"]).out).toContain("Prometheus disk");
    });

    it.each(["check", "render", "diff"])("%s --help: the usage line and what the command does, exit 0", (script) => {
        const r = run(script, ["--help"]);
        expect(r.code, r.err).toBe(0);
        expect(r.out).toMatch(new RegExp(`^usage: npm run ${script} -- --stack <name>`));
        expect(r.out.split("\n").length).toBeGreaterThan(2);
        expect(r.out).toMatch(/Exit 0|writes every generated file/);
    });

    it("says npm kept the flags when `--` is missing (npm run check --stack prod)", () => {
        const r = run("check", [], { npm_config_stack: "prod" });
        expect(r.code).toBe(2);
        expect(r.err).toContain("npm took --stack prod for itself: put -- before the script's flags (npm run <script> -- --stack prod)");
    });

    it("ends quietly when its reader goes away (check | head -1)", () => {
        const r = spawnSync("sh", ["-c", "node --import tsx scripts/check.ts -s prod | head -1"], { cwd: ROOT, encoding: "utf8" });
        expect(r.stdout).toBe("prod (kubernetes): configuration valid\n");
        expect(r.stderr).toBe("");
    });
});

describe("stacks whose files need connections their own NetworkPolicies refuse (test/fixtures/refused)", () => {
    const refused = readdirSync(join(ROOT, "test/fixtures/refused")).filter((f) => f.endsWith(".yaml"));
    const expected = (f: string) =>
        readFileSync(join(ROOT, "test/fixtures/refused", f), "utf8")
            .split("\n")
            .filter((l) => l.startsWith("# expect: "))
            .map((l) => l.slice("# expect: ".length));

    it.each(refused)("%s fails npm run check, naming the file's setting and the policy", (f) => {
        const r = check(["--stack", "refused", "--config-file", `test/fixtures/refused/${f}`]);
        expect(r.code).toBe(1);
        expect(r.out).toContain("its own NetworkPolicies refuse; nothing was created");
        expect(expected(f).length).toBeGreaterThan(0);
        for (const e of expected(f)) expect(r.out).toContain(e);
    });

    it.each(refused)("%s fails the render with the same finding (policy rendered-connections)", (f) => {
        const out = mkdtempSync(join(tmpdir(), "flowviz-refused-"));
        try {
            const r = spawnSync("node", ["--import", "tsx", "scripts/render.ts", "--stack", "refused", "--config-file", `test/fixtures/refused/${f}`, "--out", join(out, "r")], { cwd: ROOT, encoding: "utf8" });
            expect(r.status).toBe(1);
            for (const e of expected(f)) expect(r.stderr).toContain(`policy violation [rendered-connections] stack: ${e}`);
        } finally {
            rmSync(out, { recursive: true, force: true });
        }
    });
});

describe("scripts/backup-image.ts (the deploy's image step)", () => {
    const image = (config: string) => spawnSync("node", ["--import", "tsx", "scripts/backup-image.ts", "--stack", "prod", "--config-file", config], { cwd: ROOT, encoding: "utf8" });
    it("names no image for prod on CloudNativePG (the operator's), and the pgBackRest image and its base for the StatefulSet engine", () => {
        const cnpg = image("Pulumi.prod.yaml");
        expect(cnpg.status, cnpg.stderr).toBe(0);
        expect(cnpg.stdout).toBe("");
        const sts = image("test/fixtures/good/prod-statefulset.yaml");
        expect(sts.status, sts.stderr).toBe(0);
        expect(sts.stdout.trim()).toBe("ghcr.io/flowviz/postgres-pgbackrest:17.12-trixie-2.55.1 postgres:17.12-trixie");
    });
});
