/**
 * A prod stack moving from the StatefulSet engine to CloudNativePG (postgres.cloudnativePg.
 * fromStatefulSet), one render per stage: what each stage declares, that the Cluster's source, the
 * StatefulSet's roles, pg_hba and NetworkPolicies agree with one another, and what `npm run diff`
 * says of each step and of each step skipped.
 */
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { isSecretBox, maskSecrets, renderedFiles } from "../../render/files";
import type { ProgramRun, RecordedResource } from "../../render/program";
import { readStackFile } from "../../render/stackfile";
import { compareResources, type Snapshot } from "../../diff/compare";
import { findings } from "../../diff/consequences";
import { checkPolicies } from "../../render/policy-check";
import { hbaRules } from "../../policy/data-path";
import { iniSections } from "../../policy/resources";
import { crdProblems } from "../crds";
import { only, ofType, ROOT, runStack } from "../helpers";

const BEFORE = "test/fixtures/good/prod-statefulset.yaml";
const MOVING = "test/fixtures/good/prod-migrating.yaml";
const STAGES = ["stream", "switch", "retired"] as const;
type Stage = (typeof STAGES)[number];

const sent = (r: RecordedResource) => JSON.parse(JSON.stringify(maskSecrets(r.inputs, true)));
const CLUSTER = "kubernetes:postgresql.cnpg.io/v1:Cluster";
const STATEFULSET = "kubernetes:apps/v1:StatefulSet";
const cluster = (run: ProgramRun) => sent(only(run, CLUSTER, "postgres"));
/** A generated file as the render holds it (a ConfigMap's data, or a Secret's stringData unmasked). */
function file(run: ProgramRun, object: string, key: string): string {
    const r = run.resources.find((x) => x.name === object)!;
    const data: any = r.inputs.data ?? r.inputs.stringData;
    const unboxed: any = isSecretBox(data) ? data.value : data;
    return String(isSecretBox(unboxed[key]) ? unboxed[key].value : unboxed[key]);
}
const pgbouncerHost = (run: ProgramRun) => /host=(\S+)/.exec(iniSections(file(run, "pgbouncer-config", "pgbouncer.ini")).databases!.flowviz!)![1];

const renders: Partial<Record<Stage | "before", ProgramRun>> = {};
beforeAll(async () => {
    const postgres = JSON.parse(readStackFile(join(ROOT, MOVING)).config["flowviz:postgres"]!);
    renders.before = await runStack(BEFORE, { stack: "prod" });
    for (const stage of STAGES) {
        renders[stage] = await runStack(MOVING, { stack: "prod", override: { postgres: { ...postgres, cloudnativePg: { ...postgres.cloudnativePg, fromStatefulSet: stage } } } });
    }
});
const at = (stage: Stage | "before") => renders[stage]!;

describe("each stage as rendered", () => {
    it("every stage passes the policy pack, and its Cluster validates against the pinned CRD", async () => {
        for (const stage of STAGES) {
            expect((await checkPolicies(at(stage).resources)).filter((v) => v.enforcement === "mandatory"), stage).toEqual([]);
            expect(crdProblems(cluster(at(stage))), stage).toEqual([]);
        }
    });

    it("stream: the Cluster clones and follows the StatefulSet's own Service, as the role and by the certificate the StatefulSet lets in", () => {
        const run = at("stream");
        const spec = cluster(run).spec;
        expect(spec.bootstrap).toEqual({ pg_basebackup: expect.objectContaining({ source: spec.replica.source }) });
        expect(spec.replica.enabled).toBe(true);
        const source = spec.externalClusters.find((e: any) => e.name === spec.replica.source);
        // the host is the StatefulSet engine's Service, verified against the CA that signed its certificate
        const service = only(run, "kubernetes:core/v1:Service", "postgres-service").inputs as any;
        expect(source.connectionParameters.host).toBe(`${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local`);
        expect(source.connectionParameters.sslmode).toBe("verify-full");
        expect(source.sslRootCert.name).toBe(spec.certificates.serverCASecret);
        // the client certificate is the Cluster's replication one, named for the role the StatefulSet creates
        expect(source.sslCert.name).toBe(spec.certificates.replicationTLSSecret);
        const role = source.connectionParameters.user;
        const certificate = run.resources.find((r) => r.type === "tls:index/certRequest:CertRequest" && r.name === "postgres-replication-tls-request")!;
        expect((certificate.inputs as any).subject.commonName).toBe(role);
        const roles = file(run, "postgres-roles-secret", "roles.sql");
        expect(roles).toMatch(new RegExp(`ALTER ROLE "?${role}"? WITH LOGIN REPLICATION .*PASSWORD NULL;`));
        const replication = hbaRules(file(run, "postgres-config", "pg_hba.conf")).filter((r) => r.databases.includes("replication"));
        expect(replication.map((r) => [r.type, r.users, r.method])).toEqual([["hostssl", [role], "cert"]]);
        // PgBouncer stays on the StatefulSet
        expect(pgbouncerHost(run)).toBe(source.connectionParameters.host);
        expect(sent(only(run, STATEFULSET, "postgres")).spec.replicas).toBe(1);
    });

    it("stream: the StatefulSet's ingress admits the Cluster's pods (as the operator labels them) and their egress reaches it", () => {
        const run = at("stream");
        const podLabels = cluster(run).spec.inheritedMetadata.labels;
        const selects = (selector: Record<string, string>) => Object.entries(selector).every(([k, v]) => podLabels[k] === v);
        const ingress = sent(only(run, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "postgres-ingress")).spec.ingress;
        expect(ingress.some((rule: any) => rule.ports.some((p: any) => p.port === 5432) && rule.from.some((f: any) => selects(f.podSelector.matchLabels)))).toBe(true);
        const egress = ofType(run, "kubernetes:networking.k8s.io/v1:NetworkPolicy").map(sent).find((p) => p.spec.policyTypes.includes("Egress") && selects(p.spec.podSelector.matchLabels))!;
        const statefulSetPods = sent(only(run, STATEFULSET, "postgres")).spec.template.metadata.labels;
        expect(egress.spec.egress.some((rule: any) => rule.ports?.some((p: any) => p.port === 5432) && rule.to?.some((t: any) => t.podSelector && Object.entries(t.podSelector.matchLabels).every(([k, v]) => statefulSetPods[k] === v)))).toBe(true);
        // and the two identities never select each other's pods
        expect(selects(sent(only(run, "kubernetes:core/v1:Service", "postgres-service")).spec.selector)).toBe(false);
    });

    it("switch: the StatefulSet stops, the Cluster waits for that and is promoted, PgBouncer moves after the Cluster to its -rw Service", () => {
        const run = at("switch");
        expect(sent(only(run, STATEFULSET, "postgres")).spec.replicas).toBe(0);
        const c = only(run, CLUSTER, "postgres");
        expect(cluster(run).spec.replica.enabled).toBe(false);
        expect(c.dependsOn).toContain(`${STATEFULSET}::postgres`);
        expect(only(run, STATEFULSET, "pgbouncer").dependsOn).toContain(`${CLUSTER}::postgres`);
        expect(pgbouncerHost(run)).toBe("postgres-rw.flowviz.svc.cluster.local");
    });

    it("the database alerts, their exporter and the dashboards follow the server PgBouncer sends to: the StatefulSet's while streaming, the Cluster's from the switch", () => {
        const rules = (run: ProgramRun) => renderedFiles(run.resources).find((f) => f.service === "prometheus" && f.path.endsWith("flowviz.rules.yml"))!.content;
        const exporter = (run: ProgramRun) => ofType(run, "kubernetes:apps/v1:Deployment").some((r) => r.name === "postgres-exporter");
        expect(pgbouncerHost(at("stream"))).toBe("postgres.flowviz.svc.cluster.local");
        expect(rules(at("stream"))).toMatch(/expr: .*\bpg_up\b/);
        expect(rules(at("stream"))).not.toContain("cnpg_");
        expect(exporter(at("stream"))).toBe(true);
        for (const stage of ["switch", "retired"] as const) {
            expect(rules(at(stage)), stage).toContain("cnpg_collector_up");
            expect(rules(at(stage)), stage).not.toMatch(/\bpg_up\b/);
            expect(exporter(at(stage)), stage).toBe(false);
        }
    });

    it("retired: nothing of the StatefulSet runs, its volume stays protected, and the Cluster's bootstrap is the one it was created with", () => {
        const run = at("retired");
        expect(ofType(run, STATEFULSET).map((r) => r.name)).not.toContain("postgres");
        expect(run.resources.filter((r) => r.name.startsWith("postgres-") && /Job|CronJob|Deployment/.test(r.type))).toEqual([]);
        const claim = only(run, "kubernetes:core/v1:PersistentVolumeClaim", "postgres-data");
        expect(claim.protect).toBe(true);
        expect(sent(claim)).toEqual(sent(only(at("before"), "kubernetes:core/v1:PersistentVolumeClaim", "postgres-data")));
        // the operator refuses a changed bootstrap: every stage renders the same one
        expect(cluster(run).spec.bootstrap).toEqual(cluster(at("stream")).spec.bootstrap);
        expect(pgbouncerHost(run)).toBe("postgres-rw.flowviz.svc.cluster.local");
    });
});

describe("npm run diff along the move", () => {
    const review = (from: Stage | "before", to: Stage | "before") => findings(compareResources(at(from).resources, at(to).resources).changes, { resources: at(to).resources } as Snapshot);
    const messages = (from: Stage | "before", to: Stage | "before", kind: "blocked" | "note") => review(from, to).filter((f) => f.kind === kind).map((f) => f.message);

    it("shows each step in order and blocks none of them", () => {
        expect(messages("before", "stream", "blocked")).toEqual([]);
        expect(messages("before", "stream", "note")).toEqual(expect.arrayContaining([expect.stringMatching(/^MOVE step 1 of 3 .*cloned from StatefulSet postgres/)]));
        expect(messages("stream", "switch", "blocked")).toEqual([]);
        expect(messages("stream", "switch", "note")).toEqual(expect.arrayContaining([expect.stringMatching(/^MOVE step 2 of 3 .*StatefulSet postgres stops first/)]));
        expect(messages("switch", "retired", "blocked")).toEqual([]);
        expect(messages("switch", "retired", "note")).toEqual(expect.arrayContaining([expect.stringMatching(/^MOVE step 3 of 3 .*its volumes stay/)]));
    });

    it("blocks every step skipped: what the StatefulSet acknowledges would not reach the Cluster", () => {
        expect(messages("before", "switch", "blocked")).toEqual(expect.arrayContaining([expect.stringContaining("would be cloned from StatefulSet postgres and take writes at once")]));
        expect(messages("before", "retired", "blocked")).not.toEqual([]);
        expect(messages("stream", "retired", "blocked")).toEqual(expect.arrayContaining([expect.stringContaining("promoted and StatefulSet postgres deleted in one step")]));
    });

    it("blocks a promotion while the StatefulSet still runs", () => {
        const head = structuredClone(at("switch").resources);
        (head.find((r) => r.type === STATEFULSET && r.name === "postgres")!.inputs as any).spec.replicas = 1;
        const blocked = findings(compareResources(at("stream").resources, head).changes, { resources: head } as Snapshot).filter((f) => f.kind === "blocked");
        expect(blocked.map((f) => f.message)).toEqual([expect.stringContaining("would be promoted while StatefulSet postgres still runs (1 pod)")]);
    });
});
