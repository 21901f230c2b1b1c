/**
 * kubernetes.operators.install: the pinned releases' objects in the render, moved into the
 * configured namespace, the plugin on its release images and the stack's certificates, and every
 * CloudNativePG object of the stack waiting for them. (Schema and pack: kubernetes-schema and
 * policy-stacks render the same fixture.)
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { releaseObjects } from "../../configs/operators";
import { CNPG_RELEASES } from "../../facts/cloudnative-pg";
import type { ProgramRun } from "../../render/program";
import { maskSecrets } from "../../render/files";
import { ROOT, runStack } from "../helpers";

const FIXTURE = "test/fixtures/good/prod-operators-installed.yaml";
const NAMESPACE = "databases-operators";

let run: ProgramRun;
beforeAll(async () => {
    run = await runStack(FIXTURE, { stack: "prod" });
}, 120_000);

const inGroup = (group: string) => run.resources.filter((r) => r.parent === `kubernetes:yaml:ConfigGroup::${group}`);
/** The object as it reaches the API server (secret values unwrapped). */
const body = (r: { inputs: Record<string, unknown> }) => JSON.parse(JSON.stringify(maskSecrets(r.inputs, true)));
/** The stored manifest's objects, read here with the yaml library, not with the code under test. */
const published = (file: string) => parseAllDocuments(readFileSync(join(ROOT, file), "utf8")).map((d) => d.toJS()).filter(Boolean);

describe("the operators as part of the stack", () => {
    it("declares every object of the operator's release, and the plugin's but cert-manager's", () => {
        const kinds = (objects: any[]) => objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
        const operator = published(CNPG_RELEASES.operator.manifest);
        expect(kinds(inGroup("cloudnative-pg").map(body))).toEqual(kinds(operator).map((k) => (k === "Namespace/cnpg-system" ? `Namespace/${NAMESPACE}` : k)));
        const plugin = published(CNPG_RELEASES.plugin.manifest).filter((o: any) => !o.apiVersion.startsWith("cert-manager.io/"));
        expect(plugin.length).toBeGreaterThan(10);
        expect(kinds(inGroup("plugin-barman-cloud").map(body))).toEqual(kinds(plugin));
        expect(run.resources.filter((r) => r.type.includes("cert-manager.io"))).toEqual([]);
    });

    it("moves them into the configured namespace: nothing refers to the published one", () => {
        const objects = [...inGroup("cloudnative-pg"), ...inGroup("plugin-barman-cloud")].map(body);
        const mentions = objects.filter((o) => JSON.stringify(o).includes('"cnpg-system"')).map((o) => `${o.kind}/${o.metadata.name}`);
        expect(mentions).toEqual([]);
        const webhooks = objects.filter((o) => /WebhookConfiguration$/.test(o.kind)).flatMap((o) => o.webhooks.map((w: any) => w.clientConfig.service.namespace));
        expect(webhooks.length).toBeGreaterThan(5);
        expect(new Set(webhooks)).toEqual(new Set([NAMESPACE]));
        const subjects = objects.filter((o) => /RoleBinding$/.test(o.kind)).flatMap((o) => o.subjects.map((s: any) => s.namespace));
        expect(new Set(subjects)).toEqual(new Set([NAMESPACE]));
        const ns = objects.find((o) => o.kind === "Namespace");
        expect(ns.metadata.labels["pod-security.kubernetes.io/enforce"]).toBe("restricted");
    });

    it("runs the operator and the plugin on the releases' images, the sidecar's named as the release build names it", () => {
        const deployments = [...inGroup("cloudnative-pg"), ...inGroup("plugin-barman-cloud")].map(body).filter((o) => o.kind === "Deployment");
        expect(deployments.map((d) => d.spec.template.spec.containers[0].image).sort()).toEqual(["ghcr.io/cloudnative-pg/cloudnative-pg:1.30.0", "ghcr.io/cloudnative-pg/plugin-barman-cloud:v0.14.0"]);
        const secret = inGroup("plugin-barman-cloud").map(body).find((o) => o.kind === "Secret");
        expect(secret.stringData.SIDECAR_IMAGE).toBe("ghcr.io/cloudnative-pg/plugin-barman-cloud-sidecar:v0.14.0");
    });

    it("gives the plugin the stack's server and client certificates: the Deployment mounts and the Service names the same Secrets", () => {
        const secrets = run.resources.filter((r) => r.type === "kubernetes:core/v1:Secret" && r.parent === "flowviz:kubernetes:Operators::operators");
        expect(secrets.map((s) => s.name).sort()).toEqual(["barman-cloud-client-tls", "barman-cloud-server-tls"]);
        for (const s of secrets) expect(body(s).type).toBe("kubernetes.io/tls");
        const plugin = inGroup("plugin-barman-cloud").map(body);
        const deployment = plugin.find((o) => o.kind === "Deployment");
        const service = plugin.find((o) => o.kind === "Service");
        const mounted = deployment.spec.template.spec.volumes.map((v: any) => v.secret.secretName).sort();
        const annotated = [service.metadata.annotations["cnpg.io/pluginClientSecret"], service.metadata.annotations["cnpg.io/pluginServerSecret"]];
        expect(mounted).toEqual(annotated);
        for (const n of mounted) expect(n).not.toMatch(/^barman-cloud-(server|client)-tls$/);
        const certs = run.resources.filter((r) => r.type === "tls:index/selfSignedCert:SelfSignedCert" && r.parent === "flowviz:kubernetes:Operators::operators").map(body);
        expect(certs.map((c) => [c.subject.commonName, c.dnsNames ?? [], c.allowedUses.at(-1)]).sort()).toEqual([
            ["barman-cloud", ["barman-cloud"], "server_auth"],
            ["barman-cloud-client", [], "client_auth"],
        ]);
    });

    it("creates the Cluster, its ObjectStore and its ScheduledBackup after the operator, its webhooks and the plugin", () => {
        const operated = run.resources.filter((r) => /^kubernetes:(postgresql|barmancloud)\.cnpg\.io\//.test(r.type));
        expect(operated.map((r) => r.type.split(":").pop()).sort()).toEqual(["Cluster", "ObjectStore", "ScheduledBackup"]);
        for (const r of operated) {
            expect(r.dependsOn, r.name).toContain("kubernetes:apps/v1:Deployment::databases-operators/cnpg-controller-manager");
            expect(r.dependsOn, r.name).toContain("kubernetes:apps/v1:Deployment::databases-operators/barman-cloud");
            expect(r.dependsOn, r.name).toContain("kubernetes:admissionregistration.k8s.io/v1:ValidatingWebhookConfiguration::cnpg-validating-webhook-configuration");
        }
    });

    it("assumes them when install is false: none of their objects", async () => {
        const assumed = await runStack("Pulumi.prod.yaml", { stack: "prod" });
        expect(assumed.resources.filter((r) => r.type === "kubernetes:yaml:ConfigGroup" || r.type.includes("CustomResourceDefinition"))).toEqual([]);
    });
});

describe("the stored manifests", () => {
    it("are refused when a byte differs from the release's, naming the file and the way back", () => {
        const root = mkdtempSync(join(tmpdir(), "flowviz-operators-"));
        cpSync(join(ROOT, "operators"), join(root, "operators"), { recursive: true });
        expect(releaseObjects(CNPG_RELEASES.plugin, root).length).toBeGreaterThan(10);
        const file = join(root, CNPG_RELEASES.plugin.manifest);
        writeFileSync(file, readFileSync(file, "utf8").replace("runAsNonRoot: true", "runAsNonRoot: false"));
        expect(() => releaseObjects(CNPG_RELEASES.plugin, root)).toThrow(/operators\/plugin-barman-cloud-v0\.14\.0\.yaml is not cloudnative-pg\/plugin-barman-cloud v0\.14\.0's manifest .*restore it from the release/);
    });
});
