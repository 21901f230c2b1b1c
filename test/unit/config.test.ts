import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, isPinnedImage, loadStackConfig } from "../../stack/load";
import { readStackFile } from "../../render/stackfile";
import { ROOT, runStack } from "../helpers";

const BAD = join(ROOT, "test/fixtures/bad");
const GOOD = join(ROOT, "test/fixtures/good");

function load(file: string) {
    const f = readStackFile(file);
    return loadStackConfig("flowviz", "bad", f.config, (k) => f.secretKeys.includes(k));
}

function problemsOf(file: string): string[] {
    try {
        load(file);
    } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as ConfigError).problems;
    }
    throw new Error(`${file} was accepted`);
}

describe("bad stack files", () => {
    for (const name of readdirSync(BAD).filter((f) => f.endsWith(".yaml"))) {
        it(`${name} fails naming the key, the value and what is allowed`, () => {
            const file = join(BAD, name);
            const expected = readFileSync(file, "utf8")
                .split("\n")
                .filter((l) => l.startsWith("# expect: "))
                .map((l) => l.slice("# expect: ".length));
            expect(expected.length).toBeGreaterThan(0);
            const problems = problemsOf(file);
            for (const e of expected) expect(problems.some((p) => p.startsWith(e)), `${e}\n  in\n${problems.join("\n")}`).toBe(true);
            expect(problems).toHaveLength(expected.length);
        });
    }

    it("gives a bare number the command with its unit, and the cross-field problems in the same round", () => {
        const problems = problemsOf(join(BAD, "values-and-invariants-at-once.yaml"));
        expect(problems.find((p) => p.startsWith("flowviz:postgres.sharedBuffers"))).toContain("with its unit: pulumi config set --path flowviz:postgres.sharedBuffers 2048Mi -s bad");
        expect(problems.find((p) => p.startsWith("flowviz:postgres.resources.memory"))).toContain("(checked with defaults standing in for the invalid values above)");
    });

    it("lists what is allowed for an unknown key", () => {
        const [p] = problemsOf(join(BAD, "unknown-key.yaml"));
        expect(p).toContain("maxClientConn");
        expect(p).toContain("defaultPoolSize");
    });

    it("stops the program before any resource is registered, without a stack trace", async () => {
        const run = runStack("test/fixtures/bad/many-problems.yaml");
        await expect(run).rejects.toThrow(/3 configuration problems; nothing was created/);
        const err = await run.catch((e: Error) => e);
        expect((err as Error).constructor.name).toBe("RunError");
        expect((err as { registered?: number }).registered).toBe(0);
    });
});

describe("good stack files", () => {
    it.each(["Pulumi.dev.yaml", "Pulumi.prod.yaml", "test/fixtures/good/prod-statefulset.yaml", "test/integration/Pulumi.local.yaml"])("%s is valid", (name) => {
        expect(() => load(join(ROOT, name))).not.toThrow();
    });

    it("fills every default from the schema", () => {
        const { config } = load(join(ROOT, "Pulumi.dev.yaml"));
        expect(config.pgbouncer.maxClientConn).toBe(1000);
        expect(config.postgres.maxConnections).toBe(100);
        expect(config.app.api.dbPoolSize).toBe(25);
        expect(config.kubernetes.namespace).toBe("flowviz");
    });

    it("takes secure: values as the stack's credentials", () => {
        const { secrets } = loadStackConfig(
            "flowviz",
            "s",
            { "flowviz:platform": "docker", "flowviz:postgresPassword": "a-very-long-secret-value" },
            (k) => k === "flowviz:postgresPassword",
        );
        expect(secrets.postgresPassword).toBe("a-very-long-secret-value");
    });

    const secretProblems = (key: string, value: string) => {
        try {
            loadStackConfig("flowviz", "s", { "flowviz:platform": "docker", [`flowviz:${key}`]: value }, (k) => k === `flowviz:${key}`);
            return [];
        } catch (e) {
            return (e as ConfigError).problems;
        }
    };

    it.each([
        ["appDbPassword", "short", "is 5 characters: must be at least 16"],
        ["valkeyPassword", "has a space in it, sadly", "printable ASCII characters other than space, quotes and backslash"],
        ["postgresPassword", 'quote"in-a-long-password', "other than space, quotes and backslash"],
        ["grafanaAdminPassword", "ünïcödé-long-password", "printable ASCII"],
        ["alertmanagerSlackWebhookUrl", "hooks.slack.com/services/T0/B0/x", "must be an https:// URL"],
    ])("rejects %s = %j without showing the value", (key, value, expected) => {
        const problems = secretProblems(key, value);
        expect(problems).toHaveLength(1);
        expect(problems[0]).toContain(`flowviz:${key}: `);
        expect(problems[0]).toContain(expected);
        expect(problems[0]).not.toContain(value);
    });

    it("accepts a long password with URL-special characters and a short SMTP password", () => {
        expect(secretProblems("appDbPassword", "p@ss/w:rd#with%?&=chars")).toEqual([]);
        expect(secretProblems("alertmanagerSmtpPassword", "short")).toEqual([]);
    });
});

// each good stack file rendered: test/stacks/good-stacks.test.ts
describe("good stack files: values as the Pulumi CLI writes them", () => {
    it("reads decimals written as text as numbers and a CPU written as a number as a quantity", () => {
        const { config } = load(join(GOOD, "cli-written-values.yaml"));
        expect(config.monitoring.alerts.latencyP99Seconds).toBe(0.3);
        expect(config.pgbouncer.reservePoolTimeoutSeconds).toBe(1.5);
        expect(config.postgres.resources.cpu).toBe("3");
        expect(config.monitoring.enableLifecycle).toBe(false);
    });

    it("quotes the value the stack file held, not the converted one, in a problem", () => {
        const problems = problemsOf(join(BAD, "memory-without-unit.yaml"));
        expect(problems[0]).toContain("is 512:");
    });
});

describe("image pinning", () => {
    it.each([
        ["postgres:17.2-bookworm", true],
        ["quay.io/prometheuscommunity/pgbouncer-exporter:v0.12.1", true],
        ["registry.local:5000/team/api:1.0", true],
        [`postgres@sha256:${"a".repeat(64)}`, true],
        ["postgres", false],
        ["postgres:latest", false],
        ["registry.local:5000/team/api", false],
        ["Postgres:17", false],
        ["grafana/grafana:main", false],
        ["valkey/valkey:edge", false],
        ["prom/prometheus:nightly", false],
        ["postgres:17", false],
        ["postgres:17-trixie", false],
    ])("%s -> %s", (ref, ok) => expect(isPinnedImage(ref)).toBe(ok));
});
