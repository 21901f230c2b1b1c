/** Our own stacks, rendered under the mocks, against the whole policy pack. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { checkPolicies } from "../../render/policy-check";
import { ROOT, runStack } from "../helpers";

describe("Docker stacks", () => {
    it("declares, on Docker, exactly the containers whose images read credentials only from the environment", async () => {
        const run = await runStack("Pulumi.dev.yaml", { stack: "policy" });
        const declared = run.resources
            .filter((r) => r.type === "docker:index/container:Container" && (r.inputs.labels as { label: string }[]).some((l) => l.label === "flowviz.io/env-credentials"))
            .map((r) => r.name)
            .sort();
        // pgBackRest's TLS server logs in by peer on the socket, PgBouncer's exporter reads a password file: neither has one in its environment
        expect(declared).toEqual(["api-container", "worker-container"]);
    });
});

describe("our stacks", () => {
    const stacks = ["Pulumi.dev.yaml", "Pulumi.prod.yaml", "test/fixtures/good/prod-statefulset.yaml", "test/integration/Pulumi.local.yaml", "test/fixtures/good/prod-with-receivers.yaml", "test/fixtures/good/host-network-custom-ports.yaml", "test/fixtures/good/prod-operator.yaml", "test/fixtures/good/prod-restored.yaml", "test/fixtures/good/prod-offsite.yaml", "test/fixtures/good/prod-operators-installed.yaml"];
    it.each(stacks)("%s passes every mandatory policy", async (file) => {
        const run = await runStack(file, { stack: "policy" });
        const mandatory = (await checkPolicies(run.resources)).filter((v) => v.enforcement === "mandatory");
        expect(mandatory.map((v) => `[${v.policy}] ${v.resource}: ${v.message}`)).toEqual([]);
    });

    it("fails the render of a stack that breaks one (the connection check reads the rendered files)", async () => {
        const run = await runStack("test/fixtures/good/prod-statefulset.yaml", { stack: "policy" });
        const ini = run.resources.find((r) => r.type === "kubernetes:core/v1:ConfigMap" && r.name === "pgbouncer-config")!;
        (ini.inputs.data as Record<string, string>)["pgbouncer.ini"] += "default_pool_size = 150\n";
        const found = (await checkPolicies(run.resources)).filter((v) => v.policy === "connection-capacity");
        expect(found.map((v) => v.message).join("\n")).toContain("PgBouncer may open 2 pod(s) x (pool 150 + reserve 4)");
    });

    it("reads the data path's generated files on both platforms", async () => {
        for (const [file, type, name] of [
            ["test/fixtures/good/prod-statefulset.yaml", "kubernetes:core/v1:ConfigMap", "pgbouncer-config"],
            ["Pulumi.dev.yaml", "docker:index/container:Container", "pgbouncer-container"],
        ] as const) {
            const run = await runStack(file, { stack: "policy" });
            const r = run.resources.find((x) => x.type === type && x.name === name)!;
            const opened = (text: string) => text.replace(/127\.0\.0\.1\/32/, "0.0.0.0/0");
            if (type === "kubernetes:core/v1:ConfigMap") {
                const data = r.inputs.data as Record<string, string>;
                data["pgbouncer_hba.conf"] = opened(data["pgbouncer_hba.conf"]!);
            } else {
                // one secret file makes the whole uploads list a secret; the policy reads through it
                const uploads = r.inputs.uploads as { value: { file: string; content: string }[] };
                const upload = uploads.value.find((u) => u.file.endsWith("/pgbouncer_hba.conf"))!;
                upload.content = opened(upload.content);
            }
            const found = (await checkPolicies(run.resources)).filter((v) => v.policy === "data-path");
            expect(found.map((v) => v.message), file).toEqual([expect.stringContaining("opens the console beyond PgBouncer's loopback")]);
        }
    });

    it("is a policy pack the Pulumi CLI can load", () => {
        const project = parse(readFileSync(join(ROOT, "policy/PulumiPolicy.yaml"), "utf8"));
        expect(project.runtime).toBe("nodejs");
        expect(JSON.parse(readFileSync(join(ROOT, "policy/package.json"), "utf8")).main).toBe("index.ts");
        expect(readFileSync(join(ROOT, "policy/index.ts"), "utf8")).toMatch(/new PolicyPack\("flowviz", \{ policies: POLICIES \}\)/);
    });
});
