/**
 * The policy pack: each policy against a compliant and a violating resource (our stacks against
 * all of them: test/stacks/policy-stacks.test.ts; weakened, one variant per policy at least:
 * test/stacks/policy-weakened.test.ts).
 */
import { describe, expect, it } from "vitest";
import { POLICIES } from "../../policy/policies";
import { checkPolicies } from "../../render/policy-check";
import { podSecurityViolations } from "../../policy/pod-security";
import type { RecordedResource } from "../../render/program";
import { SECRET_SIG } from "../../render/files";

/** What the generators write for a stack (configs/postgres.ts, configs/pgbouncer.ts), abridged to the lines the data-path policy reads. */
const GOOD_PG_HBA = [
    "local      all       postgres       peer",
    "local      all       all            scram-sha-256",
    "hostnossl  all       all   all      reject",
    "hostssl    flowviz  flowviz  all  scram-sha-256",
    "hostssl    all       postgres  all  cert",
    "host       all       all   all      reject",
    "",
].join("\n");
const GOOD_INI = "[pgbouncer]\nauth_type = hba\nauth_hba_file = pgbouncer_hba.conf\nclient_tls_sslmode = require\nserver_tls_sslmode = verify-full\nserver_tls_ca_file = /etc/pgbouncer/tls/ca.crt\n";
const GOOD_PGB_HBA = ["hostssl  pgbouncer  pgbouncer_admin,pgbouncer_stats  127.0.0.1/32  scram-sha-256", "hostssl  pgbouncer  pgbouncer_admin,pgbouncer_stats  ::1/128  scram-sha-256", "hostssl  flowviz  flowviz  0.0.0.0/0  scram-sha-256", ""].join("\n");

const resource = (type: string, name: string, inputs: Record<string, unknown>, protect = false): RecordedResource => ({
    type,
    name,
    inputs,
    protect,
    retainOnDelete: protect,
    deleteBeforeReplace: false,
    dependsOn: [],
});

const goodContainer = (name = "app") => ({
    name,
    image: "ghcr.io/flowviz/api:0.6.0",
    resources: { requests: { cpu: "1", memory: "512Mi" }, limits: { cpu: "1", memory: "512Mi" } },
    securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
});
const goodPod = (container: Record<string, unknown> = goodContainer(), extra: Record<string, unknown> = {}) => ({
    containers: [container],
    securityContext: { runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: "RuntimeDefault" } },
    ...extra,
});
const labels = { "app.kubernetes.io/name": "api", "app.kubernetes.io/part-of": "flowviz" };
const deployment = (name: string, pod: Record<string, unknown>, namespace = "flowviz", annotations?: Record<string, string>) =>
    resource("kubernetes:apps/v1:Deployment", name, {
        metadata: { name, namespace, annotations },
        spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: pod } },
    });
const namespace = (name: string, level: string) =>
    resource("kubernetes:core/v1:Namespace", name, { metadata: { name, labels: { "pod-security.kubernetes.io/enforce": level } } }, true);
const denyAll = (ns: string) => resource("kubernetes:networking.k8s.io/v1:NetworkPolicy", `${ns}-deny`, { metadata: { namespace: ns }, spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] } });
const dockerContainer = (inputs: Record<string, unknown>) =>
    resource("docker:index/container:Container", "c-container", { name: "flowviz-dev-c", user: "999:999", readOnly: true, memory: 512, cpus: "1", ...inputs });

/** Messages of one policy on a set of resources. */
async function messages(policyName: string, resources: RecordedResource[]): Promise<string[]> {
    const policy = POLICIES.find((p) => p.name === policyName);
    if (!policy) throw new Error(`no policy ${policyName}`);
    return (await checkPolicies(resources, [policy])).map((v) => v.message);
}

interface Case {
    policy: string;
    compliant: RecordedResource[];
    violating: RecordedResource[];
    message: string;
}

const cases: Case[] = [
    {
        policy: "protect-data",
        compliant: [resource("kubernetes:core/v1:PersistentVolumeClaim", "postgres-data", {}, true)],
        violating: [resource("docker:index/volume:Volume", "postgres-data", {})],
        message: "postgres-data holds data but is not protected",
    },
    {
        policy: "protect-data",
        compliant: [resource("kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition", "clusters.postgresql.cnpg.io", {}, true)],
        violating: [resource("kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition", "clusters.postgresql.cnpg.io", {})],
        message: "clusters.postgresql.cnpg.io holds data but is not protected",
    },
    {
        policy: "pinned-images",
        compliant: [deployment("api", goodPod()), resource("docker:index/remoteImage:RemoteImage", "img", { name: "postgres:17.2-bookworm" })],
        violating: [deployment("api", goodPod({ ...goodContainer(), image: "postgres:latest" }))],
        message: "image postgres:latest is not pinned",
    },
    {
        policy: "container-resources",
        compliant: [deployment("api", goodPod()), dockerContainer({})],
        violating: [resource("kubernetes:batch/v1:Job", "roles", { spec: { template: { spec: goodPod({ ...goodContainer("roles"), resources: { limits: { cpu: "1", memory: "1Gi" } } }) } } })],
        message: "container roles has no cpu requests",
    },
    {
        policy: "non-root",
        compliant: [deployment("api", goodPod()), dockerContainer({})],
        violating: [dockerContainer({ user: "0:0" })],
        message: "runs as root (user 0:0)",
    },
    {
        policy: "no-plain-credentials",
        compliant: [
            deployment("api", goodPod({ ...goodContainer(), env: [{ name: "DATABASE_PASSWORD", valueFrom: { secretKeyRef: { name: "s", key: "k" } } }, { name: "PASSWORD_FILE", value: "/run/secrets/pw" }] })),
            resource("kubernetes:core/v1:ConfigMap", "cm", { data: { "postgresql.conf": "password_encryption = scram-sha-256\n" } }),
        ],
        violating: [deployment("api", goodPod({ ...goodContainer(), env: [{ name: "DATABASE_URL", value: "postgresql://app:hunter2@pgbouncer:6432/flowviz" }] }))],
        message: "has DATABASE_URL as a plain env value",
    },
    {
        policy: "no-plain-credentials",
        compliant: [],
        violating: [resource("kubernetes:core/v1:ConfigMap", "cm", { data: { "alertmanager.yml": "global:\n  smtp_auth_password: hunter2\n" } })],
        message: "ConfigMap key alertmanager.yml holds a credential",
    },
    {
        policy: "no-public-exposure",
        compliant: [
            resource("kubernetes:core/v1:Service", "api-service", { spec: { type: "ClusterIP" } }),
            deployment("node", goodPod(goodContainer(), { hostNetwork: true }), "flowviz-host", { "flowviz.io/host-access": "node metrics" }),
            dockerContainer({ ports: [{ internal: 8000, external: 8000, ip: "127.0.0.1" }] }),
        ],
        violating: [resource("kubernetes:core/v1:Service", "api-service", { spec: { type: "LoadBalancer" } })],
        message: "Service api-service is of type LoadBalancer",
    },
    {
        policy: "no-public-exposure",
        compliant: [],
        violating: [deployment("api", goodPod({ ...goodContainer(), ports: [{ containerPort: 8000, hostPort: 8000 }] }))],
        message: "container app claims hostPort 8000",
    },
    {
        policy: "startup-probe",
        compliant: [
            resource("kubernetes:apps/v1:StatefulSet", "db", { spec: { template: { spec: goodPod({ ...goodContainer("db"), livenessProbe: { tcpSocket: { port: 5432 } }, startupProbe: { tcpSocket: { port: 5432 } } }) } } }),
            // a container nothing restarts on a probe (the backup sidecar) needs none
            resource("kubernetes:apps/v1:StatefulSet", "db", { spec: { template: { spec: goodPod(goodContainer("backup")) } } }),
            // a StatefulSet for stable names only (peered PgBouncers): no data to recover
            resource("kubernetes:apps/v1:StatefulSet", "pgbouncer", { spec: { template: { spec: goodPod({ ...goodContainer("pgbouncer"), livenessProbe: { tcpSocket: { port: 6432 } } }) } } }),
        ],
        violating: [
            resource("kubernetes:apps/v1:StatefulSet", "db", { spec: { template: { spec: { ...goodPod({ ...goodContainer("db"), livenessProbe: { tcpSocket: { port: 5432 } } }), volumes: [{ name: "data", persistentVolumeClaim: { claimName: "db-data" } }] } } } }),
            resource("kubernetes:apps/v1:StatefulSet", "db", { spec: { volumeClaimTemplates: [{ metadata: { name: "data" } }], template: { spec: goodPod({ ...goodContainer("db"), livenessProbe: { tcpSocket: { port: 5432 } } }) } } }),
        ],
        message: "container db of stateful db has a livenessProbe but no startupProbe",
    },
    {
        policy: "pod-security",
        compliant: [namespace("flowviz", "restricted"), deployment("api", goodPod())],
        violating: [namespace("flowviz", "baseline"), deployment("node-exporter", goodPod(goodContainer(), { hostNetwork: true, hostPID: true }))],
        message: "node-exporter in namespace flowviz (baseline): hostNetwork is true",
    },
    {
        policy: "network-policy",
        compliant: [denyAll("flowviz"), deployment("api", goodPod())],
        violating: [denyAll("other"), deployment("api", goodPod())],
        message: "no ingress NetworkPolicy selects the pods of api",
    },
    {
        policy: "connection-capacity",
        compliant: [
            resource("kubernetes:core/v1:ConfigMap", "pgbouncer-config", { data: { "pgbouncer.ini": "[pgbouncer]\ndefault_pool_size = 16\nreserve_pool_size = 4\n" } }),
            resource("kubernetes:core/v1:ConfigMap", "postgres-config", { data: { "postgresql.conf": "max_connections = 100\nsuperuser_reserved_connections = 3\n" } }),
            resource("kubernetes:apps/v1:Deployment", "pgbouncer", { metadata: { name: "pgbouncer" }, spec: { replicas: 2, strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1 } } } }),
        ],
        violating: [
            resource("kubernetes:core/v1:ConfigMap", "pgbouncer-config", { data: { "pgbouncer.ini": "[pgbouncer]\ndefault_pool_size = 40\nreserve_pool_size = 10\n" } }),
            resource("kubernetes:core/v1:ConfigMap", "postgres-config", { data: { "postgresql.conf": "max_connections = 100\nsuperuser_reserved_connections = 3\n" } }),
            resource("kubernetes:apps/v1:Deployment", "pgbouncer", { metadata: { name: "pgbouncer" }, spec: { replicas: 2, strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1 } } } }),
        ],
        message: "PgBouncer may open 3 pod(s) x (pool 40 + reserve 10) = 150 server connections; PostgreSQL accepts max_connections 100 - 3 reserved = 97",
    },
    {
        policy: "no-credentials-in-docker-env",
        compliant: [
            dockerContainer({ envs: ["GF_SECURITY_ADMIN_PASSWORD__FILE=/etc/grafana/provisioning/secrets/password"] }),
            dockerContainer({ envs: ["DATABASE_URL=postgresql://app:hunter2@pgbouncer:6432/flowviz"], labels: [{ label: "flowviz.io/env-credentials", value: "the image reads it from its environment only" }] }),
        ],
        violating: [dockerContainer({ envs: ["REDIS_URL=redis://flowviz:hunter2@valkey:6379/0"] })],
        message: "container flowviz-dev-c gets REDIS_URL as an environment variable",
    },
    ...dataPathCases(),
];

/** The data-path policy against the files our generators write, each with one weakening a reviewer must catch. */
function dataPathCases(): Case[] {
    const files = (over: Partial<Record<"pg_hba.conf" | "pgbouncer.ini" | "pgbouncer_hba.conf", string>>) => [
        resource("kubernetes:core/v1:ConfigMap", "postgres-config", { data: { "pg_hba.conf": GOOD_PG_HBA, ...pick(over, "pg_hba.conf") } }),
        resource("kubernetes:core/v1:ConfigMap", "pgbouncer-config", { data: { "pgbouncer.ini": GOOD_INI, "pgbouncer_hba.conf": GOOD_PGB_HBA, ...pick(over, "pgbouncer.ini", "pgbouncer_hba.conf") } }),
    ];
    const weakened: [string, Partial<Record<"pg_hba.conf" | "pgbouncer.ini" | "pgbouncer_hba.conf", string>>, string][] = [
        ["trust", { "pg_hba.conf": GOOD_PG_HBA.replace("hostssl    flowviz  flowviz  all  scram-sha-256", "hostssl    flowviz  flowviz  all  trust") }, "uses trust"],
        ["plain TCP", { "pg_hba.conf": GOOD_PG_HBA.replace("hostnossl  all       all   all      reject", "host all all all scram-sha-256") }, "accepts TCP without TLS"],
        ["superuser by password", { "pg_hba.conf": GOOD_PG_HBA.replace("hostssl    all       postgres  all  cert", "hostssl    all       postgres  all  scram-sha-256") }, "lets postgres in over TCP with a password"],
        ["everyone by password", { "pg_hba.conf": GOOD_PG_HBA + "hostssl all all all scram-sha-256\n" }, "lets postgres in over TCP with a password"],
        ["every local user by peer", { "pg_hba.conf": GOOD_PG_HBA.replace("local      all       postgres       peer", "local      all       all       peer") }, "uses peer; only scram-sha-256, cert or reject (peer: the superuser on the local socket alone)"],
        ["the app by peer beside the superuser", { "pg_hba.conf": GOOD_PG_HBA.replace("local      all       postgres       peer", "local      all       postgres,flowviz       peer") }, "uses peer"],
        ["ident over TCP", { "pg_hba.conf": "hostssl all postgres all ident\n" + GOOD_PG_HBA }, "uses ident"],
        ["clients without TLS", { "pgbouncer.ini": GOOD_INI.replace("client_tls_sslmode = require", "client_tls_sslmode = prefer") }, "client_tls_sslmode is prefer"],
        ["PostgreSQL unverified", { "pgbouncer.ini": GOOD_INI.replace("server_tls_sslmode = verify-full", "server_tls_sslmode = require") }, "server_tls_sslmode is require"],
        ["no hba", { "pgbouncer.ini": GOOD_INI.replace("auth_type = hba", "auth_type = scram-sha-256") }, "auth_type is scram-sha-256"],
        ["console open", { "pgbouncer_hba.conf": GOOD_PGB_HBA.replace("127.0.0.1/32", "0.0.0.0/0") }, "opens the console beyond PgBouncer's loopback"],
        ["console for all databases", { "pgbouncer_hba.conf": GOOD_PGB_HBA + "hostssl all flowviz 10.0.0.0/8 scram-sha-256\n" }, "opens the console beyond PgBouncer's loopback"],
    ];
    const database = resource("kubernetes:apps/v1:StatefulSet", "postgres", { spec: { template: { metadata: { labels: { "app.kubernetes.io/component": "database" } }, spec: goodPod() } } });
    const inSecret = (hba: string) => [
        database,
        resource("kubernetes:core/v1:Secret", "postgres-secret", { stringData: { [SECRET_SIG]: SECRET_SIG, value: { "pg_hba.conf": hba } } }),
    ];
    return [
        ...weakened.map(([, over, message]) => ({ policy: "data-path", compliant: files({}), violating: files(over), message })),
        // the same files moved into a Secret are read there (stringData, wrapped as a secret), not skipped
        { policy: "data-path", compliant: inSecret(GOOD_PG_HBA), violating: inSecret("host all all 0.0.0.0/0 trust\n"), message: "uses trust" },
        // a database whose pg_hba.conf is nowhere to be read fails closed
        { policy: "data-path", compliant: [database, ...files({})], violating: [database], message: "pg_hba.conf: not found in any ConfigMap, Secret or upload" },
    ];
}
function pick(o: Record<string, string | undefined>, ...keys: string[]): Record<string, string> {
    return Object.fromEntries(Object.entries(o).filter((e): e is [string, string] => keys.includes(e[0]) && e[1] !== undefined));
}

describe("each policy", () => {
    it.each(cases)("$policy: passes the compliant resources, names the violation ($message)", async ({ policy, compliant, violating, message }) => {
        expect(await messages(policy, compliant)).toEqual([]);
        const found = await messages(policy, violating);
        expect(found.some((m) => m.includes(message)), found.join("\n")).toBe(true);
    });

    it("no-credentials-in-docker-env: a credential in a Docker environment needs a file or a declared reason", async () => {
        const policy = POLICIES.filter((p) => p.name === "no-credentials-in-docker-env");
        const [v] = await checkPolicies([dockerContainer({ envs: ["POSTGRES_PASSWORD=hunter2-hunter2"] })], policy);
        expect(v).toMatchObject({ enforcement: "mandatory", message: expect.stringContaining("container flowviz-dev-c gets POSTGRES_PASSWORD as an environment variable") });
        const declared = dockerContainer({ envs: ["DATABASE_URL=postgresql://app:hunter2@pgbouncer:6432/flowviz"], labels: [{ label: "flowviz.io/env-credentials", value: "reads it from its environment only" }] });
        expect(await checkPolicies([declared], policy)).toEqual([]);
        const blank = dockerContainer({ envs: ["DATABASE_URL=postgresql://app:hunter2@pgbouncer:6432/flowviz"], labels: [{ label: "flowviz.io/env-credentials", value: " " }] });
        expect(await checkPolicies([blank], policy)).toHaveLength(1);
        // a _FILE variable names a file, not a value
        expect(await checkPolicies([dockerContainer({ envs: ["POSTGRES_PASSWORD_FILE=/etc/postgresql/secrets/password"] })], policy)).toEqual([]);
    });

});

describe("Pod Security Standards", () => {
    const pod = goodPod();
    it("accepts a restricted pod at every level", () => {
        for (const level of ["privileged", "baseline", "restricted"] as const) expect(podSecurityViolations(pod as never, level)).toEqual([]);
    });
    it.each([
        ["baseline", { ...pod, hostPID: true }, "hostPID is true"],
        ["baseline", { ...pod, volumes: [{ name: "root", hostPath: { path: "/" } }] }, "volume root is a hostPath"],
        ["baseline", goodPod({ ...goodContainer(), securityContext: { privileged: true } }), "container app is privileged"],
        ["baseline", goodPod({ ...goodContainer(), securityContext: { capabilities: { add: ["SYS_ADMIN"] } } }), "adds capability SYS_ADMIN"],
        ["baseline", { ...pod, securityContext: { seccompProfile: { type: "Unconfined" } } }, "pod seccompProfile is Unconfined"],
        ["restricted", goodPod({ ...goodContainer(), securityContext: { readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } } }), "does not set allowPrivilegeEscalation: false"],
        ["restricted", { ...pod, securityContext: { seccompProfile: { type: "RuntimeDefault" } } }, "does not run with runAsNonRoot: true"],
        ["restricted", { ...pod, securityContext: { runAsNonRoot: true } }, "has no RuntimeDefault or Localhost seccompProfile"],
        ["restricted", goodPod({ ...goodContainer(), securityContext: { allowPrivilegeEscalation: false } }), "does not drop ALL capabilities"],
        ["restricted", { ...pod, volumes: [{ name: "sock", nfs: { server: "x", path: "/" } }] }, "volume sock is of type nfs"],
    ] as const)("%s refuses: %s", (level, spec, message) => {
        expect(podSecurityViolations(spec as never, level).join("\n")).toContain(message);
    });
    it("lets the baseline level keep what only restricted forbids", () => {
        expect(podSecurityViolations({ containers: [{ name: "x" }] }, "baseline")).toEqual([]);
    });
});

