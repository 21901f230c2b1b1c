/**
 * The CloudNativePG engine as rendered: every operator object valid against the pinned CRDs
 * (operators/) and @kubernetes-models/cloudnative-pg, the Cluster's shape, the roles' verifiers
 * shared with PgBouncer's userlist, the restore into a new Cluster, and what surrounds the pods.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { Cluster, ScheduledBackup } from "@kubernetes-models/cloudnative-pg/postgresql.cnpg.io/v1";
import { PodMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";
import { maskSecrets } from "../../render/files";
import type { ProgramRun, RecordedResource } from "../../render/program";
import { CNPG_FIXED_PARAMETERS } from "../../facts/cloudnative-pg";
import { podSecurityViolations } from "../../policy/pod-security";
import { crdProblems } from "../crds";
import { readStackFile } from "../../render/stackfile";
import { join } from "node:path";
import { ofType, only, ROOT, runStack } from "../helpers";

const STACK = "Pulumi.prod.yaml";
const sent = (r: RecordedResource) => JSON.parse(JSON.stringify(maskSecrets(r.inputs, true)));
const operatorObjects = (run: ProgramRun) => run.resources.filter((r) => /^kubernetes:(postgresql|barmancloud)\.cnpg\.io\//.test(r.type));
const clusterNamed = (run: ProgramRun, name: string) => sent(only(run, "kubernetes:postgresql.cnpg.io/v1:Cluster", name));
const secretData = (run: ProgramRun, name: string) => sent(ofType(run, "kubernetes:core/v1:Secret").find((s) => s.name === name)!).stringData;

let run: ProgramRun;
beforeAll(async () => {
    run = await runStack(STACK, { stack: "prod" });
});

describe("CloudNativePG objects against their published schemas", () => {
    it("declares a Cluster, its ObjectStore and a ScheduledBackup, each valid against the stored CRD of its release", () => {
        const objects = operatorObjects(run);
        expect(objects.map((r) => `${r.inputs.kind}/${r.name}`).sort()).toEqual(["Cluster/postgres", "ObjectStore/postgres-backups", "ScheduledBackup/postgres-full"]);
        for (const r of objects) expect(crdProblems(sent(r)), r.name).toEqual([]);
    });

    it("the Cluster and ScheduledBackup also validate with @kubernetes-models/cloudnative-pg", () => {
        expect(() => new Cluster(clusterNamed(run, "postgres")).validate()).not.toThrow();
        expect(() => new ScheduledBackup(sent(only(run, "kubernetes:postgresql.cnpg.io/v1:ScheduledBackup", "postgres-full"))).validate()).not.toThrow();
    });

    it("the validators refuse what the API server would (they can fail)", () => {
        const cluster = clusterNamed(run, "postgres");
        expect(crdProblems({ ...cluster, spec: { ...cluster.spec, instance: 3 } })).toEqual([expect.stringContaining("(instance)")]);
        expect(crdProblems({ ...cluster, spec: { ...cluster.spec, postgresql: { ...cluster.spec.postgresql, synchronous: { method: "all", number: 1 } } } })).not.toEqual([]);
        expect(() => new Cluster({ ...cluster, spec: { ...cluster.spec, instances: "three" } }).validate()).toThrow();
        // the CRD's CEL rules too: a builtin locale without the builtin provider, no synchronous standby
        const initdb = { ...cluster.spec.bootstrap.initdb, localeProvider: "libc" };
        expect(crdProblems({ ...cluster, spec: { ...cluster.spec, bootstrap: { initdb } } })).toEqual([expect.stringContaining("builtinLocale is only available when localeProvider is set to `builtin`")]);
        expect(crdProblems({ ...cluster, spec: { ...cluster.spec, postgresql: { ...cluster.spec.postgresql, synchronous: { method: "any", number: 0 } } } })).toEqual([expect.stringContaining("greater than zero")]);
        const store = sent(operatorObjects(run).find((r) => r.inputs.kind === "ObjectStore")!);
        expect(crdProblems({ ...store, spec: { ...store.spec, configuration: { ...store.spec.configuration, wal: { compression: "zstd-max" } } } })).not.toEqual([]);
    });
});

describe("the Cluster", () => {
    it("runs three instances on different nodes and zones, one synchronous standby required for every commit", () => {
        const spec = clusterNamed(run, "postgres").spec;
        expect(spec.instances).toBe(3);
        // a standby is promoted only when a quorum agrees it holds every acknowledged commit
        expect(spec.postgresql.synchronous).toEqual({ method: "any", number: 1, dataDurability: "required", failoverQuorum: true });
        expect(spec.affinity).toMatchObject({ enablePodAntiAffinity: true, podAntiAffinityType: "required", topologyKey: "kubernetes.io/hostname" });
        expect(spec.topologySpreadConstraints[0]).toMatchObject({ topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "DoNotSchedule" });
        expect(spec.enableSuperuserAccess).toBe(false);
        // Pod Security restricted, as the namespace enforces it, whatever the operator's defaults
        const pod = { securityContext: spec.podSecurityContext, containers: [{ name: "postgres", securityContext: spec.securityContext }] };
        expect(podSecurityViolations(pod, "restricted")).toEqual([]);
        expect(spec.resources).toEqual({ requests: { cpu: "4", memory: "8Gi" }, limits: { cpu: "4", memory: "8Gi" } });
        expect(spec.storage.size).toBe("100Gi");
    });

    it("keeps WAL on a volume of its own, bounds what an abandoned slot keeps, lets the operator's budgets guard the primary, and updates it by switchover", () => {
        const spec = clusterNamed(run, "postgres").spec;
        expect(spec.walStorage).toMatchObject({ size: "20Gi", resizeInUseVolumes: true });
        // half of the WAL volume, in the unit PostgreSQL reads
        expect(spec.postgresql.parameters.max_slot_wal_keep_size).toBe(`${(20 * 1024) / 2}MB`);
        expect(spec.enablePDB).toBe(true);
        expect(spec).toMatchObject({ primaryUpdateMethod: "switchover", primaryUpdateStrategy: "unsupervised" });
        // the stack declares no budget of its own over the instances: two would block every drain
        expect(run.resources.filter((r) => r.type.endsWith(":PodDisruptionBudget") && JSON.stringify(r.inputs).includes('"cnpg.io/cluster"'))).toEqual([]);
    });

    it("gets the generator's parameters without any the operator fixes, and the data path's pg_hba", () => {
        const pg = clusterNamed(run, "postgres").spec.postgresql;
        expect(Object.keys(pg.parameters).filter((k) => CNPG_FIXED_PARAMETERS.includes(k))).toEqual([]);
        expect(pg.parameters).toMatchObject({ max_connections: "200", shared_buffers: "2GB", password_encryption: "scram-sha-256", "pgaudit.log": "ddl, role", log_parameter_max_length: "0" });
        expect(pg.shared_preload_libraries).toEqual(["pg_stat_statements", "pgaudit"]);
        expect(pg.pg_hba[0]).toBe("hostnossl all all all reject");
        expect(pg.pg_hba.at(-1)).toBe("host all all all reject");
    });

    it("keeps the owner / migrator / app split, each login's password the verifier PgBouncer's userlist holds", () => {
        const roles = clusterNamed(run, "postgres").spec.managed.roles;
        expect(roles.map((r: { name: string; login: boolean }) => `${r.name}:${r.login}`)).toEqual(["flowviz_owner:false", "flowviz_migrator:true", "flowviz:true"]);
        expect(roles[1].inRoles).toEqual(["flowviz_owner"]);
        const userlist: string = secretData(run, "pgbouncer-secret")["userlist.txt"];
        for (const [role, secret] of [["flowviz", "postgres-app-password"], ["flowviz_migrator", "postgres-migrator-password"]] as const) {
            const verifier = secretData(run, secret).password;
            expect(verifier).toMatch(/^SCRAM-SHA-256\$4096:/);
            expect(userlist).toContain(`"${role}" "${verifier}"`);
        }
        const bootstrap = sent(only(run, "kubernetes:core/v1:ConfigMap", "postgres-bootstrap")).data;
        expect(bootstrap["post-init.sql"]).toContain(`ALTER ROLE "flowviz" SET pgaudit.log = 'write, ddl, role';`);
        expect(bootstrap["post-init-application.sql"]).toContain("ALTER DEFAULT PRIVILEGES FOR ROLE");
        expect(JSON.stringify(bootstrap)).not.toMatch(/SCRAM-SHA-256/);
    });

    it("uses the stack CA: a server certificate for the -rw, -ro and -r Services, a replication client certificate", () => {
        const certs = clusterNamed(run, "postgres").spec.certificates;
        expect(Object.keys(certs).sort()).toEqual(["clientCASecret", "replicationTLSSecret", "serverCASecret", "serverTLSSecret"]);
        const request = only(run, "tls:index/certRequest:CertRequest", "postgres-tls-request").inputs as { dnsNames: string[] };
        expect(request.dnsNames).toEqual(expect.arrayContaining(["postgres-rw.flowviz.svc.cluster.local", "postgres-ro.flowviz.svc", "postgres-r", "postgres"]));
        const replication = only(run, "tls:index/certRequest:CertRequest", "postgres-replication-tls-request").inputs as { subject: { commonName: string } };
        expect(replication.subject.commonName).toBe("streaming_replica");
    });

    it("archives through the Barman Cloud plugin into the ObjectStore built from postgres.backups", () => {
        const spec = clusterNamed(run, "postgres").spec;
        expect(spec.plugins).toEqual([{ name: "barman-cloud.cloudnative-pg.io", enabled: true, isWALArchiver: true, parameters: { barmanObjectName: "postgres-backups", serverName: "postgres" } }]);
        expect(spec.backup).toBeUndefined();
        const store = sent(operatorObjects(run).find((r) => r.inputs.kind === "ObjectStore")!).spec;
        expect(store.retentionPolicy).toBe("7d");
        expect(store.configuration).toMatchObject({ destinationPath: "s3://flowviz-prod-backups/flowviz", endpointURL: "https://s3.eu-central-1.amazonaws.com", s3Credentials: { inheritFromIAMRole: true } });
        expect(store.configuration.wal).toMatchObject({ compression: "gzip", encryption: "AES256" });
        // keyType web-id: the instances' ServiceAccount carries the role the plugin's IAM credentials come from
        expect(spec.serviceAccountTemplate).toEqual({ metadata: { annotations: { "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/flowviz-prod-backups" } } });
        const scheduled = sent(only(run, "kubernetes:postgresql.cnpg.io/v1:ScheduledBackup", "postgres-full")).spec;
        // daily by default with this engine: base backups are its only ones (a restore replays at most a day of WAL)
        expect(scheduled).toMatchObject({ schedule: "0 0 1 * * *", method: "plugin", pluginConfiguration: { name: "barman-cloud.cloudnative-pg.io" }, cluster: { name: "postgres" } });
    });

    it("protects the Cluster and the ObjectStore: deleting either is blocked", () => {
        for (const r of operatorObjects(run).filter((x) => x.inputs.kind !== "ScheduledBackup")) expect(r.protect, r.name).toBe(true);
    });
});

describe("around the operator's pods", () => {
    it("runs no PostgreSQL workload, roles job or postgres-exporter of its own; PgBouncer goes to the primary's Service", () => {
        const workloads = run.resources.filter((r) => /apps\/v1:(Deployment|StatefulSet)$|batch\/v1:Job$/.test(r.type)).map((r) => r.name);
        expect(workloads.filter((w) => w.startsWith("postgres"))).toEqual([]);
        expect(JSON.stringify(sent(only(run, "kubernetes:core/v1:ConfigMap", "pgbouncer-config")).data)).toContain("host=postgres-rw.flowviz.svc.cluster.local");
    });

    it("lets PgBouncer, the other instances and the scraper in, and the operator to the status port only", () => {
        // the instances' own identity, never the StatefulSet engine's `postgres` (both run during a move)
        const ingress = sent(only(run, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "postgres-cluster-ingress")).spec;
        expect(ingress.podSelector.matchLabels).toEqual({ "app.kubernetes.io/name": "postgres-cluster", "app.kubernetes.io/part-of": "flowviz" });
        expect(ingress.ingress[0].from.map((f: { podSelector: { matchLabels: Record<string, string> } }) => f.podSelector.matchLabels["app.kubernetes.io/name"])).toEqual(["pgbouncer", "postgres-cluster"]);
        expect(ingress.ingress[0].ports).toEqual([{ port: 5432 }]);
        // the status port has callers of its own: the operator's namespace and the other instances
        expect(ingress.ingress[1]).toEqual({ from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "cnpg-system" } } }, { podSelector: { matchLabels: ingress.podSelector.matchLabels } }], ports: [{ port: 8000 }] });
        expect(ingress.ingress[2].ports).toEqual([{ port: 9187 }]);
        // the pods carry the selector labels: the Cluster hands them down
        expect(clusterNamed(run, "postgres").spec.inheritedMetadata.labels).toEqual(ingress.podSelector.matchLabels);
    });

    it("lets the instances reach the API server and the object store, nothing else outside", () => {
        const egress = sent(only(run, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "postgres-cluster-egress")).spec.egress;
        const outside = egress.filter((e: { to: { ipBlock?: unknown }[] }) => e.to.some((t) => t.ipBlock));
        expect(outside.map((e: { ports: { port: number }[] }) => e.ports.map((p) => p.port))).toEqual([[443, 6443], [443]]);
    });
});

describe("a restore (postgres.restore)", () => {
    it("recovers into a new Cluster from the old one's archive, keeps the old one hibernated with its volumes, and moves PgBouncer over", async () => {
        const postgres = JSON.parse(readStackFile(join(ROOT, STACK)).config["flowviz:postgres"]!);
        const restored = await runStack(STACK, { stack: "prod", override: { postgres: { ...postgres, restore: { id: "recall-1204", target: "2026-12-04T10:15:00Z", replaceData: true } } } });
        const old = clusterNamed(restored, "postgres");
        expect(old.metadata.annotations).toEqual({ "cnpg.io/hibernation": "on" });
        const fresh = clusterNamed(restored, "postgres-recall-1204").spec;
        expect(fresh.bootstrap).toEqual({ recovery: { source: "origin", recoveryTarget: { targetTime: "2026-12-04T10:15:00Z" } } });
        expect(fresh.externalClusters).toEqual([{ name: "origin", plugin: { name: "barman-cloud.cloudnative-pg.io", parameters: { barmanObjectName: "postgres-backups", serverName: "postgres" } } }]);
        // it archives under its own name: the origin's archive is never written to again
        expect(fresh.plugins[0].parameters.serverName).toBe("postgres-recall-1204");
        expect(JSON.stringify(sent(only(restored, "kubernetes:core/v1:ConfigMap", "pgbouncer-config")).data)).toContain("host=postgres-recall-1204-rw.flowviz.svc.cluster.local");
        for (const r of operatorObjects(restored)) expect(crdProblems(sent(r)), r.name).toEqual([]);
    });
});

describe("with monitoring.mode operator", () => {
    it("declares a PodMonitor for the instances' exporters (not the operator's deprecated one), valid against its CRD", async () => {
        const monitoring = JSON.parse(readStackFile(join(ROOT, STACK)).config["flowviz:monitoring"]!);
        const op = await runStack(STACK, { stack: "prod", override: { monitoring: { ...monitoring, mode: "operator" } } });
        const monitor = sent(only(op, "kubernetes:monitoring.coreos.com/v1:PodMonitor", "postgres-cluster-podmonitor"));
        expect(() => new PodMonitor(monitor).validate()).not.toThrow();
        expect(monitor.spec.selector.matchLabels).toEqual(clusterNamed(op, "postgres").spec.inheritedMetadata.labels);
        expect(monitor.spec.podMetricsEndpoints[0]).toMatchObject({ port: "metrics", path: "/metrics" });
        expect(clusterNamed(op, "postgres").spec.monitoring).toBeUndefined();
        expect(ofType(op, "kubernetes:monitoring.coreos.com/v1:PodMonitor").map((m) => m.name)).not.toContain("postgres-exporter-podmonitor");
    });
});
