/** The whole program under mocks, on both platforms: what it asks Docker and Kubernetes for. */
import { resolve } from "node:path";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { runProgram, type ProgramRun } from "../../render/program";
import { maskSecrets, renderedFiles } from "../../render/files";
import { isPinnedImage } from "../../stack/load";
import { ofType, only, ROOT, runStack } from "../helpers";

const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const isSecretInput = (v: unknown) => typeof v === "object" && v !== null && SECRET_SIG in v;

function credentialValues(run: ProgramRun): string[] {
    const values = ofType(run, "random:index/randomPassword:RandomPassword").map((r) => r.name);
    expect(values.length).toBeGreaterThan(0);
    return [run.outputs.appDbPassword as string, run.outputs.databaseUrl as string];
}

describe("dev stack on Docker", () => {
    let run: ProgramRun;
    beforeAll(async () => {
        run = await runStack("Pulumi.dev.yaml", { stack: "dev" });
    });

    const container = (name: string) => only(run, "docker:index/container:Container", `${name}-container`).inputs as Record<string, any>;

    it("declares the data path: PostgreSQL, PgBouncer, roles job, API, worker, Valkey", () => {
        const names = ofType(run, "docker:index/container:Container").map((c) => c.name).sort();
        expect(names).toEqual(
            ["alertmanager", "api", "grafana", "node-exporter", "pgbackrest-exporter", "pgbouncer", "pgbouncer-exporter", "postgres-backup", "postgres-backup-server", "postgres", "postgres-drill", "postgres-exporter", "postgres-roles", "prometheus", "pushgateway", "valkey", "valkey-exporter", "worker"].map((n) => `${n}-container`),
        );
        // sidecars share their service's network namespace
        const sidecars = ["pgbouncer-exporter-container", "postgres-backup-server-container", "valkey-exporter-container"];
        for (const c of ofType(run, "docker:index/container:Container").filter((x) => !sidecars.includes(x.name))) {
            expect((c.inputs.networksAdvanced as { name: string }[])[0]?.name, c.name).toBe("flowviz-dev");
        }
    });

    it("pulls only pinned images", () => {
        const images = ofType(run, "docker:index/remoteImage:RemoteImage").map((i) => i.inputs.name as string);
        expect(images.length).toBe(12);
        for (const i of images) expect(isPinnedImage(i), i).toBe(true);
    });

    it("keeps the PostgreSQL volume on delete and protects it", () => {
        const vol = only(run, "docker:index/volume:Volume", "postgres-data");
        expect(vol.protect).toBe(true);
        expect(vol.retainOnDelete).toBe(true);
        expect(vol.parent).toBe("flowviz:database:Postgres::postgres");
        expect(only(run, "flowviz:database:Postgres", "postgres").protect).toBe(false);
        const pg = container("postgres");
        expect(pg.volumes).toEqual([
            { volumeName: "flowviz-dev-postgres-data", containerPath: "/var/lib/postgresql/data" },
            { volumeName: "flowviz-dev-postgres-repo", containerPath: "/var/lib/pgbackrest" },
        ]);
        // the backup repository is as protected as the data; pgBackRest's TLS server beside PostgreSQL reads the data,
        // the backup runs (a container of their own, on the network) write the repository and never see the data
        const repo = only(run, "docker:index/volume:Volume", "postgres-repo");
        expect([repo.protect, repo.retainOnDelete]).toEqual([true, true]);
        expect(container("postgres-backup-server").volumes).toEqual([pg.volumes[0]]);
        expect(container("postgres-backup-server").networkMode).toMatch(/^container:/);
        expect(container("postgres-backup").volumes).toEqual([pg.volumes[1]]);
        expect((container("postgres-backup").networksAdvanced as { name: string }[])[0]?.name).toBe("flowviz-dev");
    });

    it("builds PostgreSQL's image with pgBackRest from the repository's Dockerfile on the pinned PostgreSQL image", () => {
        const image = only(run, "docker:index/image:Image", "image-flowviz-postgres-pgbackrest-17-12-trixie").inputs as Record<string, any>;
        expect(image.build).toEqual({ context: "images/postgres-pgbackrest", args: { POSTGRES_IMAGE: "postgres:17.12-trixie" } });
        expect(image.skipPush).toBe(true);
        expect(container("postgres").image).toBe("flowviz/postgres-pgbackrest:17.12-trixie");
        expect(container("postgres-backup").image).toBe("flowviz/postgres-pgbackrest:17.12-trixie");
    });

    it("publishes only the host ports the stack asks for, on loopback", () => {
        expect(container("postgres").ports).toEqual([{ internal: 5432, external: 5433, ip: "127.0.0.1" }]);
        expect(container("pgbouncer").ports).toEqual([{ internal: 6432, external: 6432, ip: "127.0.0.1" }]);
        expect(container("valkey").ports).toEqual([]);
    });

    it("gives PgBouncer its descriptor limit, a health check, and waits for it", () => {
        const pgb = container("pgbouncer");
        expect(pgb.ulimits).toEqual([{ name: "nofile", soft: 8192, hard: 8192 }]);
        expect(pgb.healthcheck.tests).toEqual(["CMD-SHELL", "nc -z 127.0.0.1 6432 || exit 1"]);
        expect(pgb.wait).toBe(true);
        expect(pgb.restart).toBe("unless-stopped");
        expect(pgb.user).toBe("70:70");
        expect(pgb.readOnly).toBe(true);
    });

    it("replaces a container by deleting it first (fixed name, host ports, one data volume)", () => {
        const containers = ofType(run, "docker:index/container:Container");
        expect(containers.length).toBeGreaterThan(5);
        for (const c of containers) expect(c.deleteBeforeReplace, c.name).toBe(true);
    });

    it("stops PostgreSQL and PgBouncer gracefully, also when Pulumi replaces them", () => {
        // SIGINT: PostgreSQL's fast shutdown, PgBouncer's safe shutdown (running transactions finish).
        const pg = container("postgres");
        expect([pg.stopSignal, pg.stopTimeout, pg.destroyGraceSeconds]).toEqual(["SIGINT", 120, 120]);
        const pgb = container("pgbouncer");
        expect(pgb.stopSignal).toBe("SIGINT");
        // long enough for a transaction PostgreSQL would let sit idle (60 s) to be ended
        expect(pgb.stopTimeout).toBeGreaterThan(60);
        expect(pgb.destroyGraceSeconds).toBe(pgb.stopTimeout);
    });

    it("runs the roles script once per change, not as a long-lived service", () => {
        const job = container("postgres-roles");
        expect(job.restart).toBe("no");
        expect(job.mustRun).toBe(false);
        expect((job.command as string[]).slice(-2)).toEqual(["-f", "/etc/flowviz/roles.sql"]);
    });

    it("lets the roles job in as the superuser with a client certificate, never a password", () => {
        const job = container("postgres-roles");
        const envs = Object.fromEntries((job.envs as string[]).map((e) => e.split("=") as [string, string]));
        expect(envs).toMatchObject({ PGSSLMODE: "verify-full", PGSSLCERT: "/etc/flowviz/tls/client.crt", PGSSLKEY: "/etc/flowviz/tls/client.key" });
        expect(Object.keys(envs).filter((k) => /PASS/.test(k))).toEqual([]);
        expect(only(run, "tls:index/locallySignedCert:LocallySignedCert", "postgres-roles-tls-cert").inputs.allowedUses).toContain("client_auth");
        expect((only(run, "tls:index/certRequest:CertRequest", "postgres-roles-tls-request").inputs.subject as { commonName: string }).commonName).toBe("postgres");
        const file = (service: string, path: string) => renderedFiles(run.resources).find((f) => f.service === service && f.path === path)!.content;
        const hba = file("postgres", "pg_hba.conf");
        expect(hba).toMatch(/^hostssl\s+all\s+postgres\s+all\s+cert$/m);
        expect(hba).not.toMatch(/postgres\s+all\s+scram-sha-256/);
        expect(file("postgres", "postgresql.conf")).toContain("ssl_ca_file = '/etc/postgresql/tls/ca.crt'");
    });

    it("keeps every credential secret: env, uploads, outputs", () => {
        for (const c of ["api", "worker"]) expect(isSecretInput(container(c).envs), c).toBe(true);
        // credentials the image can read from a file are files (0600), not environment variables
        for (const c of ["postgres", "postgres-roles", "grafana", "postgres-exporter"]) {
            expect(isSecretInput(container(c).uploads), c).toBe(true);
            const envs = JSON.stringify(maskSecrets(container(c).envs, true));
            expect(envs, c).not.toMatch(/PASSWORD=|PASS=|PGPASSWORD/);
        }
        expect(isSecretInput(container("pgbouncer").uploads)).toBe(true);
        expect(isSecretInput(container("valkey").uploads)).toBe(true);
        expect(run.secretOutputs.sort()).toEqual(["appDbPassword", "backupCipherPassphrase", "databaseUrl", "grafanaAdminPassword", "migrationDbPassword", "pgbouncerAdminPassword"]);
        const plan = JSON.stringify(run.resources.map((r) => maskSecrets(r.inputs, false)));
        for (const v of credentialValues(run)) expect(plan).not.toContain(v);
        expect(plan).not.toContain("SCRAM-SHA-256$");
    });

    it("renders the same plan and files twice: nothing rolls without a real change", async () => {
        const again = await runStack("Pulumi.dev.yaml", { stack: "dev" });
        expect(JSON.stringify(again.resources)).toBe(JSON.stringify(run.resources));
        expect(renderedFiles(again.resources)).toEqual(renderedFiles(run.resources));
    });

    it("points the API at PgBouncer with an asyncpg DSN that verifies PgBouncer's certificate", () => {
        expect(run.outputs.databaseUrl).toBe(`postgresql+asyncpg://flowviz:${run.outputs.appDbPassword}@pgbouncer:6432/flowviz?ssl=verify-full`);
        expect((container("api").envs as any).value).toContain("PGSSLROOTCERT=/etc/flowviz/tls/ca.crt");
    });

    it("percent-encodes a stack-set password in every connection URL", async () => {
        const password = "p@ss/w:rd#with%?&=chars";
        const other = await runStack("Pulumi.dev.yaml", { secrets: { appDbPassword: password, valkeyPassword: password, pgbouncerStatsPassword: password } });
        const urls = [
            String(other.outputs.databaseUrl),
            ...JSON.stringify(maskSecrets(other.resources.map((r) => r.inputs.envs), true))
                .match(/CELERY_BROKER_URL=[^"]+/g)!
                .map((e) => e.slice(e.indexOf("=") + 1)),
        ];
        expect(urls.length).toBeGreaterThanOrEqual(3);
        // the PgBouncer exporter's password is in its libpq password file, `:` and `\` escaped as libpq reads them
        const pgpass = renderedFiles(other.resources).find((f) => f.service === "pgbouncer-exporter" && f.path.endsWith("pgpass"))!.content;
        expect(pgpass).toBe(`127.0.0.1:6432:pgbouncer:pgbouncer_stats:${password.replace(/:/g, "\\:")}\n`);
        for (const url of urls) {
            const parsed = new URL(url.replace(/^[a-z+]+:/, "http:"));
            expect(decodeURIComponent(parsed.password), url).toBe(password);
            expect(parsed.hostname, url).not.toBe("");
        }
    });

    it("renders each service's files into its own folder, secrets marked", () => {
        const files = renderedFiles(run.resources).map((f) => `${f.service}/${f.path}${f.secret ? " (secret)" : ""}`);
        expect(files).toEqual([
            "alertmanager/alertmanager.yml",
            "api/tls/ca.crt",
            "grafana/dashboards/flowviz.yaml",
            "grafana/dashboards/json/application.json",
            "grafana/dashboards/json/business.json",
            "grafana/dashboards/json/infrastructure.json",
            "grafana/datasources/prometheus.yaml",
            "grafana/secrets/password (secret)",
            "grafana/secrets/secret_key (secret)",
            "pgbackrest-exporter/pgbackrest/conf.d/credentials.conf (secret)",
            "pgbackrest-exporter/pgbackrest/pgbackrest.conf",
            "pgbouncer-exporter/secrets/pgpass (secret)",
            "pgbouncer-exporter/tls/ca.crt",
            "pgbouncer/pgbouncer_hba.conf",
            "pgbouncer/pgbouncer.ini",
            "pgbouncer/tls/ca.crt",
            "pgbouncer/tls/server.crt",
            "pgbouncer/tls/server.key (secret)",
            "pgbouncer/userlist.txt (secret)",
            "postgres-backup-server/pgbackrest/pgbackrest.conf",
            "postgres-backup-server/server.sh",
            "postgres-backup-server/tls/ca.crt",
            "postgres-backup-server/tls/server.crt",
            "postgres-backup-server/tls/server.key (secret)",
            "postgres-backup/backup.sh",
            "postgres-backup/pgbackrest/conf.d/credentials.conf (secret)",
            "postgres-backup/pgbackrest/pgbackrest.conf",
            "postgres-backup/schedule.sh",
            "postgres-backup/tls/ca.crt",
            "postgres-backup/tls/client.crt",
            "postgres-backup/tls/client.key (secret)",
            "postgres-backup/wal-gaps.awk",
            "postgres-drill/drill_hba.conf",
            "postgres-drill/drill.sh",
            "postgres-drill/pgbackrest/conf.d/credentials.conf (secret)",
            "postgres-drill/pgbackrest/pgbackrest.conf",
            "postgres-drill/schedule.sh",
            "postgres-exporter/queries.yaml",
            "postgres-exporter/secrets/password (secret)",
            "postgres-exporter/tls/ca.crt",
            "postgres-roles/roles.sql (secret)",
            "postgres-roles/tls/ca.crt",
            "postgres-roles/tls/client.crt",
            "postgres-roles/tls/client.key (secret)",
            "postgres/pg_hba.conf",
            "postgres/pgbackrest/conf.d/credentials.conf (secret)",
            "postgres/pgbackrest/pgbackrest.conf",
            "postgres/postgresql.conf",
            "postgres/secrets/password (secret)",
            "postgres/start.sh",
            "postgres/tls/ca.crt",
            "postgres/tls/server.crt",
            "postgres/tls/server.key (secret)",
            "prometheus/prometheus.yml",
            "prometheus/rules/flowviz.rules.yml",
            "prometheus/tls/ca.crt",
            "valkey-exporter/secrets/passwords.json (secret)",
            "valkey-exporter/tls/ca.crt",
            "valkey/tls/ca.crt",
            "valkey/tls/server.crt",
            "valkey/tls/server.key (secret)",
            "valkey/valkey.conf (secret)",
            "worker/tls/ca.crt",
        ]);
    });
});

describe("prod stack on Kubernetes", () => {
    let run: ProgramRun;
    beforeAll(async () => {
        run = await runStack("test/fixtures/good/prod-statefulset.yaml", { stack: "prod" });
    });
    const k = (kind: string) => `kubernetes:${kind}`;
    const spec = (type: string, name: string) => only(run, k(type), name).inputs.spec as Record<string, any>;

    it("signs servers and the clients with separate CAs; the superuser's certificate lives a day, the backup runs' as long as a server's", () => {
        const signed = ofType(run, "tls:index/locallySignedCert:LocallySignedCert");
        const signer = (r: (typeof signed)[number]) => String(r.inputs.caCertPem).match(/render stand-in for ([\w-]+)/)![1];
        for (const r of signed) {
            const client = (r.inputs.allowedUses as string[]).includes("client_auth");
            expect(signer(r), r.name).toBe(client ? "client-ca-cert" : "ca-cert");
            expect(r.inputs.validityPeriodHours, r.name).toBe(r.name === "postgres-roles-tls-cert" ? 24 : 90 * 24);
        }
        expect(signed.filter((r) => (r.inputs.allowedUses as string[]).includes("client_auth")).map((r) => r.name).sort()).toEqual(["postgres-backup-tls-cert", "postgres-roles-tls-cert"]);
        // PostgreSQL trusts the client CA for client certificates; everyone else verifies servers against the server CA
        const caFileOf = (service: string) => String(renderedFiles(run.resources).find((f) => f.service === service && f.path === "tls/ca.crt")!.content);
        expect(caFileOf("postgres")).toContain("render stand-in for client-ca-cert");
        expect(caFileOf("postgres-roles")).toContain("render stand-in for ca-cert");
    });

    it("leaves nothing unauthenticated on the node: node-exporter on its loopback, kube-rbac-proxy on the node's port, Prometheus alone allowed", () => {
        const pod = spec("apps/v1:DaemonSet", "node-exporter").template.spec;
        expect(pod.hostNetwork).toBe(true);
        const [exporter, proxy] = pod.containers;
        expect(exporter.args).toContain("--web.listen-address=127.0.0.1:9101");
        expect(proxy.image).toMatch(/^quay\.io\/brancz\/kube-rbac-proxy:v0\.\d+\.\d+$/);
        expect(proxy.args).toEqual(expect.arrayContaining(["--secure-listen-address=:9100", "--upstream=http://127.0.0.1:9101/", "--allow-paths=/metrics", "--tls-min-version=VersionTLS12"]));
        expect(pod.automountServiceAccountToken).toBe(true);
        expect(pod.serviceAccountName).toBe("node-exporter");
        const role = (name: string) => only(run, k("rbac.authorization.k8s.io/v1:ClusterRole"), name).inputs as any;
        const binding = (name: string) => only(run, k("rbac.authorization.k8s.io/v1:ClusterRoleBinding"), name).inputs as any;
        expect(role("node-exporter-auth").rules).toEqual([
            { apiGroups: ["authentication.k8s.io"], resources: ["tokenreviews"], verbs: ["create"] },
            { apiGroups: ["authorization.k8s.io"], resources: ["subjectaccessreviews"], verbs: ["create"] },
        ]);
        expect(binding("node-exporter-auth").subjects).toEqual([{ kind: "ServiceAccount", name: "node-exporter", namespace: "flowviz-host" }]);
        expect(role("prometheus-metrics").rules).toEqual([{ nonResourceURLs: ["/metrics"], verbs: ["get"] }]);
        expect(binding("prometheus-metrics").subjects).toEqual([{ kind: "ServiceAccount", name: "prometheus", namespace: "flowviz" }]);
    });

    it("puts everything in a protected restricted namespace behind default-deny ingress and egress, node-exporter alone in a privileged one", () => {
        const ns = only(run, k("core/v1:Namespace"), "kubernetes-namespace");
        expect(ns.inputs.metadata).toMatchObject({ name: "flowviz", labels: { "pod-security.kubernetes.io/enforce": "restricted" } });
        expect(ns.protect).toBe(true);
        const host = only(run, k("core/v1:Namespace"), "kubernetes-host-namespace");
        expect(host.inputs.metadata).toMatchObject({ name: "flowviz-host", labels: { "pod-security.kubernetes.io/enforce": "privileged" } });
        expect(spec("networking.k8s.io/v1:NetworkPolicy", "kubernetes-default-deny")).toEqual({ podSelector: {}, policyTypes: ["Ingress", "Egress"] });
        expect(spec("networking.k8s.io/v1:NetworkPolicy", "kubernetes-host-default-deny")).toEqual({ podSelector: {}, policyTypes: ["Ingress", "Egress"] });
        const namespaced = run.resources.filter((r) => r.type.startsWith("kubernetes:") && !/:(Namespace|ClusterRole|ClusterRoleBinding)$/.test(r.type));
        expect(namespaced.length).toBeGreaterThan(15);
        const inHost = (r: (typeof namespaced)[number]) => r.name.startsWith("node-exporter") || r.name.startsWith("kube-rbac-proxy") || r.name.endsWith("-host") || r.name === "kubernetes-host-default-deny";
        for (const r of namespaced) expect((r.inputs.metadata as { namespace: string }).namespace, r.name).toBe(inHost(r) ? "flowviz-host" : "flowviz");
        expect(namespaced.filter(inHost).map((r) => r.name).sort()).toEqual(
            ["kube-rbac-proxy-config", "kube-rbac-proxy-secret", "kubernetes-host-default-deny", "node-exporter", "node-exporter-ingress", "node-exporter-sa", "node-exporter-service", "prometheus-discovery-host", "prometheus-discovery-host"].sort(),
        );
    });

    it("lets only PgBouncer (and the roles job) reach PostgreSQL, only the app (and the certificate check) reach PgBouncer", () => {
        const from = (name: string) =>
            spec("networking.k8s.io/v1:NetworkPolicy", `${name}-ingress`).ingress[0].from.map((f: any) => f.podSelector.matchLabels["app.kubernetes.io/name"]);
        expect(from("postgres")).toEqual(["pgbouncer", "postgres-exporter", "postgres-roles"]);
        // the exporter is beside each PgBouncer, on its loopback: it needs no way in; the backup sidecar
        // in PostgreSQL's pod reads PgBouncer's and Valkey's certificates (a TLS handshake, no login)
        // the peered replicas forward cancel requests to one another
        expect(from("pgbouncer")).toEqual(["api", "worker", "postgres", "pgbouncer"]);
        expect(from("valkey")).toEqual(["api", "worker", "postgres"]);
    });

    it("runs PostgreSQL as a StatefulSet on a protected claim, never exposed outside", () => {
        const pvc = only(run, k("core/v1:PersistentVolumeClaim"), "postgres-data");
        expect(pvc.protect).toBe(true);
        expect(pvc.retainOnDelete).toBe(true);
        expect((pvc.inputs.spec as any).resources.requests.storage).toBe("100Gi");
        const sts = spec("apps/v1:StatefulSet", "postgres");
        expect(sts.replicas).toBe(1);
        expect(sts.template.spec.volumes).toContainEqual({ name: "data", persistentVolumeClaim: { claimName: "postgres-data" } });
        for (const svc of ofType(run, k("core/v1:Service"))) expect((svc.inputs.spec as any).type ?? "ClusterIP").toBe("ClusterIP");
    });

    it("replicates PgBouncer and the API with disruption budgets", () => {
        // two replicas: peered, each with a name of its own (a StatefulSet)
        expect(spec("apps/v1:StatefulSet", "pgbouncer").replicas).toBe(2);
        expect(spec("apps/v1:Deployment", "api").replicas).toBe(4);
        const pdbs = ofType(run, k("policy/v1:PodDisruptionBudget")).map((p) => p.name).sort();
        expect(pdbs).toEqual(["api-pdb", "pgbouncer-pdb", "worker-pdb"]);
        expect(run.outputs.pgbouncerPool).toEqual({ poolSize: 16, reserveSize: 4, replicas: 2 });
    });

    it("rolls replicated Deployments without losing capacity, spread over nodes; peered PgBouncers one at a time", () => {
        const pgbouncer = spec("apps/v1:StatefulSet", "pgbouncer");
        expect(pgbouncer.updateStrategy ?? { type: "RollingUpdate" }).toEqual({ type: "RollingUpdate" });
        expect(pgbouncer.template.spec.topologySpreadConstraints.map((c: any) => c.topologyKey)).toEqual(["kubernetes.io/hostname", "topology.kubernetes.io/zone"]);
        for (const name of ["api", "worker"]) {
            const d = spec("apps/v1:Deployment", name);
            // one surge pod (which the server-connection invariant counts), never one fewer
            expect(d.strategy.rollingUpdate, name).toEqual({ maxSurge: 1, maxUnavailable: 0 });
            expect(d.template.spec.topologySpreadConstraints.map((c: any) => c.topologyKey), name).toEqual(["kubernetes.io/hostname", "topology.kubernetes.io/zone"]);
            expect(d.template.spec.topologySpreadConstraints[0].labelSelector.matchLabels["app.kubernetes.io/name"]).toBe(name);
        }
        expect(spec("apps/v1:StatefulSet", "postgres").template.spec.topologySpreadConstraints).toBeUndefined();
    });

    it("drains a PgBouncer pod before its safe shutdown, and gives PostgreSQL time for its checkpoint", () => {
        const pgb = spec("apps/v1:StatefulSet", "pgbouncer").template.spec;
        // Kubernetes sends only SIGTERM (an immediate or client-waiting shutdown in PgBouncer); the hook sends SIGINT
        // after the endpoint is gone, and waits.
        expect(pgb.containers[0].lifecycle.preStop.exec.command).toEqual(["/bin/sh", "-c", "sleep 10; kill -INT 1; while kill -0 1 2>/dev/null; do sleep 1; done"]);
        expect(pgb.terminationGracePeriodSeconds).toBeGreaterThan(60 + 10);
        const pg = spec("apps/v1:StatefulSet", "postgres").template.spec;
        expect(pg.containers[0].lifecycle.preStop.exec.command[2]).toMatch(/^kill -INT 1; /);
        expect(pg.terminationGracePeriodSeconds).toBe(120);
        expect(spec("apps/v1:Deployment", "api").template.spec.terminationGracePeriodSeconds).toBeUndefined();
    });

    it("recreates a Deployment that holds a ReadWriteOnce claim instead of surging (the new pod could never mount it)", async () => {
        vi.resetModules();
        const alone = await runProgram({ stack: "t", config: {}, program: resolve(ROOT, "test/fixtures/programs/kubernetes-services.ts") });
        const strategy = (name: string) => (only(alone, k("apps/v1:Deployment"), name).inputs.spec as any).strategy;
        expect(strategy("stateless")).toEqual({ type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
        expect(strategy("with-claim")).toEqual({ type: "Recreate" });
    });

    it("refuses a second render over program modules that already ran (it would record nothing), and renders after they are loaded afresh", async () => {
        const program = resolve(ROOT, "test/fixtures/programs/kubernetes-services.ts");
        vi.resetModules();
        const first = await runProgram({ stack: "t", config: {}, program });
        expect(first.resources.length).toBeGreaterThan(0);
        await expect(runProgram({ stack: "t", config: {}, program })).rejects.toThrow(/already ran in this process/);
        vi.resetModules();
        expect((await runProgram({ stack: "t", config: {}, program })).resources.length).toBe(first.resources.length);
    });

    it("runs every pod non-root with a read-only root filesystem and probes", () => {
        for (const type of ["apps/v1:Deployment", "apps/v1:StatefulSet"]) {
            for (const w of ofType(run, k(type))) {
                const pod = (w.inputs.spec as any).template.spec;
                expect(pod.securityContext.runAsNonRoot, w.name).toBe(true);
                const c = pod.containers[0];
                expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
                expect(c.resources.limits, w.name).toBeDefined();
                if (w.name !== "worker") expect(c.readinessProbe, w.name).toBeDefined();
                // only Prometheus talks to the Kubernetes API (pod discovery)
                expect(pod.automountServiceAccountToken).toBe(w.name === "prometheus");
            }
        }
    });

    it("mounts generated files from an auto-named ConfigMap and Secret, so a change rolls the pods", () => {
        const cm = only(run, k("core/v1:ConfigMap"), "pgbouncer-config");
        expect((cm.inputs.metadata as any).name).toBeUndefined();
        const sources = spec("apps/v1:StatefulSet", "pgbouncer").template.spec.volumes[0].projected.sources;
        expect(sources[0].configMap.items).toEqual([
            { key: "pgbouncer.ini", path: "pgbouncer.ini" },
            { key: "start.sh", path: "start.sh" },
            { key: "pgbouncer_hba.conf", path: "pgbouncer_hba.conf" },
            { key: "tls__server.crt", path: "tls/server.crt" },
            { key: "tls__ca.crt", path: "tls/ca.crt" },
        ]);
        expect(sources[1].secret.items).toEqual([
            { key: "userlist.txt", path: "userlist.txt", mode: 0o400 },
            { key: "tls__server.key", path: "tls/server.key", mode: 0o400 },
        ]);
        const secret = only(run, k("core/v1:Secret"), "pgbouncer-secret");
        expect(isSecretInput(secret.inputs.stringData)).toBe(true);
    });

    it("labels every workload the app.kubernetes.io way", () => {
        const labels = (only(run, k("apps/v1:StatefulSet"), "pgbouncer").inputs.metadata as any).labels;
        expect(labels).toMatchObject({
            "app.kubernetes.io/name": "pgbouncer",
            "app.kubernetes.io/component": "pooler",
            "app.kubernetes.io/part-of": "flowviz",
            "app.kubernetes.io/version": "v1.25.1-p0",
            "app.kubernetes.io/managed-by": "pulumi",
        });
    });

    it("passes credentials only through Secrets", () => {
        const api = spec("apps/v1:Deployment", "api").template.spec.containers[0];
        const dsn = api.env.find((e: any) => e.name === "DATABASE_URL");
        expect(dsn.value).toBeUndefined();
        expect(dsn.valueFrom.secretKeyRef.key).toBe("env-DATABASE_URL");
        const plan = JSON.stringify(run.resources.map((r) => maskSecrets(r.inputs, false)));
        for (const v of credentialValues(run)) expect(plan).not.toContain(v);
    });

    it("uses the stack's secure: values instead of generating", async () => {
        const given = "given-password-for-the-app-0123";
        const withSecret = await runStack("test/fixtures/good/prod-statefulset.yaml", { stack: "prod", secrets: { appDbPassword: given } });
        expect(withSecret.outputs.appDbPassword).toBe(given);
        expect(withSecret.secretOutputs).toContain("appDbPassword");
        const generated = ofType(withSecret, "random:index/randomPassword:RandomPassword").map((r) => r.name);
        expect(generated).not.toContain("credentials-appDbPassword");
        expect(generated).toContain("credentials-postgresPassword");
    });
});

describe("the data path as prod deploys it", () => {
    let run: ProgramRun;
    beforeAll(async () => {
        run = await runStack("test/fixtures/good/prod-statefulset.yaml", { stack: "prod" });
    });
    const files = () => renderedFiles(run.resources);
    const file = (service: string, path: string) => files().find((f) => f.service === service && f.path === path)!;

    it("issues PostgreSQL's and PgBouncer's certificates from the stack's CA for every name clients use, keys secret", () => {
        for (const service of ["postgres", "pgbouncer"]) {
            const request = only(run, "tls:index/certRequest:CertRequest", `${service}-tls-request`).inputs as { dnsNames: string[] };
            const names = [`${service}.flowviz.svc.cluster.local`, `${service}.flowviz.svc`, `${service}.flowviz`, service];
            // PgBouncer's console is reached on its loopback (the exporter beside it, port-forwards), and each peered replica at its own name
            const peers = [0, 1].map((i) => `pgbouncer-${i}.pgbouncer-peers.flowviz.svc.cluster.local`);
            expect(request.dnsNames).toEqual(service === "pgbouncer" ? [...names, ...peers, "localhost"] : names);
            expect(file(service, "tls/server.key").secret).toBe(true);
            expect(file(service, "tls/server.crt").secret).toBe(false);
        }
        expect(only(run, "tls:index/selfSignedCert:SelfSignedCert", "ca-cert").inputs.isCaCertificate).toBe(true);
    });

    it("verifies certificates on every hop: app, exporters and roles job verify-full, PgBouncer verifies PostgreSQL", () => {
        expect(file("pgbouncer", "pgbouncer.ini").content).toMatch(/^server_tls_sslmode = verify-full$/m);
        expect(file("pgbouncer", "pgbouncer.ini").content).toMatch(/^client_tls_sslmode = require$/m);
        const env = (name: string, kind = "apps/v1:Deployment") =>
            Object.fromEntries(((only(run, `kubernetes:${kind}`, name).inputs.spec as any).template.spec.containers[0].env as { name: string; value?: string }[]).map((e) => [e.name, e.value]));
        expect(env("postgres-exporter").DATA_SOURCE_URI).toContain("sslmode=verify-full&sslrootcert=/etc/postgres-exporter/tls/ca.crt");
        expect(env("postgres-roles", "batch/v1:Job")).toMatchObject({ PGSSLMODE: "verify-full", PGSSLROOTCERT: "/etc/flowviz/tls/ca.crt" });
        expect(file("postgres", "pg_hba.conf").content).toMatch(/^hostnossl\s+all\s+all\s+all\s+reject$/m);
        expect(file("postgres", "pg_hba.conf").content).not.toMatch(/^host\s+all\s+all\s+\S+\s+scram/m);
    });

    it("runs the broker as one StatefulSet on a protected claim, append-only, with an ACL user", () => {
        expect(ofType(run, "kubernetes:apps/v1:Deployment").map((r) => r.name)).not.toContain("valkey");
        const sts = only(run, "kubernetes:apps/v1:StatefulSet", "valkey").inputs.spec as any;
        expect(sts.replicas).toBe(1);
        expect(only(run, "kubernetes:core/v1:PersistentVolumeClaim", "valkey-data").protect).toBe(true);
        const conf = file("valkey", "valkey.conf");
        expect(conf.secret).toBe(true);
        expect(conf.content).toMatch(/^appendonly yes$/m);
        expect(conf.content).toMatch(/^user default off$/m);
        expect(conf.content).toMatch(/^user flowviz on #[0-9a-f]{64} .* -@dangerous$/m);
    });

    it("lets recovery finish: startup probes on stateful pods, liveness asks less than readiness", () => {
        const container = (name: string) => (only(run, "kubernetes:apps/v1:StatefulSet", name).inputs.spec as any).template.spec.containers[0];
        const pg = container("postgres");
        expect(pg.startupProbe.periodSeconds * pg.startupProbe.failureThreshold).toBe(1800);
        const prom = container("prometheus");
        expect(prom.readinessProbe.httpGet.path).toBe("/-/ready");
        expect(prom.livenessProbe.httpGet.path).toBe("/-/healthy");
        expect(prom.livenessProbe.failureThreshold).toBeGreaterThan(prom.readinessProbe.failureThreshold);
    });
});

describe("one image for the API and the worker", () => {
    it("moves the worker with app.api.image unless the worker names its own", async () => {
        const images = async (app: object) => {
            const run = await runStack("test/fixtures/good/prod-statefulset.yaml", { stack: "images", override: { app } });
            const image = (name: string) => (only(run, "kubernetes:apps/v1:Deployment", name).inputs as any).spec.template.spec.containers[0].image as string;
            return [image("api"), image("worker")];
        };
        expect(await images({ api: { image: "ghcr.io/flowviz/api:0.7.0" } })).toEqual(["ghcr.io/flowviz/api:0.7.0", "ghcr.io/flowviz/api:0.7.0"]);
        expect(await images({ api: { image: "ghcr.io/flowviz/api:0.7.0" }, worker: { image: "ghcr.io/flowviz/worker:1.0.0" } })).toEqual(["ghcr.io/flowviz/api:0.7.0", "ghcr.io/flowviz/worker:1.0.0"]);
    });
});

describe("the version label", () => {
    it("is on workloads and their pods only, so an image bump updates nothing else", async () => {
        const run = await runStack("test/fixtures/good/prod-statefulset.yaml", { stack: "labels" });
        const version = "app.kubernetes.io/version";
        const workloads = ["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"].map((k) => `:${k}`);
        const k8s = run.resources.filter((r) => r.type.startsWith("kubernetes:") && (r.inputs as any).metadata?.labels?.["app.kubernetes.io/name"]);
        const carrying = k8s.filter((r) => (r.inputs as any).metadata.labels[version] !== undefined).map((r) => r.type.split(":").pop());
        expect(new Set(carrying)).toEqual(new Set(["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"]));
        const template = (r: { type: string; inputs: any }) => (r.type.endsWith(":CronJob") ? r.inputs.spec.jobTemplate.spec.template : r.inputs.spec.template);
        for (const r of k8s.filter((x) => workloads.some((w) => x.type.endsWith(w)))) expect(template(r).metadata.labels[version], r.name).toBeTruthy();
        expect(k8s.filter((r) => !workloads.some((w) => r.type.endsWith(w))).length).toBeGreaterThan(10);
    });
});
