/**
 * The policy pack against our own stacks weakened the way an attacker on a branch would:
 * each variant edits the real render of prod (Kubernetes) or dev (Docker) and must be
 * refused, by the policy that owns the rule, as mandatory.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { checkPolicies } from "../../render/policy-check";
import { POLICIES } from "../../policy/policies";
import { isSecretBox } from "../../render/files";
import type { RecordedResource } from "../../render/program";
import { runStack } from "../helpers";

type Resources = RecordedResource[];
interface Variant {
    name: string;
    stack: "prod" | "dev" | "cnpg" | "moving";
    policy: string;
    message: string | RegExp;
    weaken(rs: Resources): void;
}

const inner = (v: any) => (isSecretBox(v) ? v.value : v);
function get(rs: Resources, type: string, name: string): any {
    const r = rs.find((x) => x.type.endsWith(type) && x.name === name);
    if (!r) throw new Error(`no ${type} ${name} in the render`);
    return r;
}
/** A Kubernetes Secret's stringData (unwrapped), a ConfigMap's data. */
const secretData = (rs: Resources, name: string): Record<string, string> => inner(get(rs, "core/v1:Secret", name).inputs.stringData);
const configData = (rs: Resources, name: string): Record<string, string> => get(rs, "core/v1:ConfigMap", name).inputs.data;
const podSpec = (rs: Resources, type: string, name: string) => get(rs, type, name).inputs.spec.template.spec;
const container = (rs: Resources, type: string, name: string) => podSpec(rs, type, name).containers[0];
/** A Docker container's inputs, and one of its uploads' content. */
const docker = (rs: Resources, service: string) => get(rs, "index/container:Container", `${service}-container`).inputs;
function upload(rs: Resources, service: string, file: string): { content: string } {
    const u = (inner(docker(rs, service).uploads) as { file: string; content: string }[]).find((x) => x.file.endsWith(`/${file}`));
    if (!u) throw new Error(`${service} uploads no ${file}`);
    return u;
}
function move(from: Record<string, string>, to: Record<string, string>, key: string, edit: (text: string) => string = (t) => t): void {
    to[key] = edit(inner(from[key]));
    delete from[key];
}

const variants: Variant[] = [
    // the data path, its files moved into Secrets or removed
    { name: "pg_hba trust from anywhere, the file moved into a Secret", stack: "prod", policy: "data-path", message: "uses trust", weaken: (rs) => move(configData(rs, "postgres-config"), secretData(rs, "postgres-secret"), "pg_hba.conf", (t) => `host all all 0.0.0.0/0 trust\n${t}`) },
    { name: "PgBouncer auth_type trust and TLS off, in a Secret", stack: "prod", policy: "data-path", message: "auth_type is trust", weaken: (rs) => move(configData(rs, "pgbouncer-config"), secretData(rs, "pgbouncer-secret"), "pgbouncer.ini", (t) => t.replace(/^auth_type = .*$/m, "auth_type = trust").replace(/^client_tls_sslmode = .*$/m, "client_tls_sslmode = disable")) },
    { name: "pg_hba.conf nowhere to be read", stack: "prod", policy: "data-path", message: "pg_hba.conf: not found", weaken: (rs) => void delete configData(rs, "postgres-config")["pg_hba.conf"] },
    { name: "PgBouncer pointed at another OpenSSL configuration (Kubernetes)", stack: "prod", policy: "data-path", message: "container pgbouncer sets OPENSSL_CONF", weaken: (rs) => void (container(rs, "apps/v1:StatefulSet", "pgbouncer").env ??= []).push({ name: "OPENSSL_CONF", value: "/tmp/tls1.cnf" }) },
    { name: "PostgreSQL given OpenSSL modules from the environment (Docker)", stack: "dev", policy: "data-path", message: /sets OPENSSL_MODULES/, weaken: (rs) => void (docker(rs, "postgres").envs as string[]).push("OPENSSL_MODULES=/tmp/legacy") },
    { name: "a hostnogssenc line accepting plaintext", stack: "prod", policy: "data-path", message: "accepts TCP without TLS", weaken: (rs) => void (configData(rs, "postgres-config")["pg_hba.conf"] = `hostnogssenc all all 0.0.0.0/0 scram-sha-256\n${configData(rs, "postgres-config")["pg_hba.conf"]}`) },
    { name: "PgBouncer to PostgreSQL at verify-ca against the system bundle", stack: "prod", policy: "data-path", message: /server_tls_sslmode is verify-ca|server_tls_ca_file is \/etc\/ssl/, weaken: (rs) => { const d = configData(rs, "pgbouncer-config"); d["pgbouncer.ini"] = d["pgbouncer.ini"]!.replace(/^server_tls_sslmode = .*$/m, "server_tls_sslmode = verify-ca").replace(/^server_tls_ca_file = .*$/m, "server_tls_ca_file = /etc/ssl/certs/ca-certificates.crt"); } },
    { name: "the PgBouncer console opened on Docker", stack: "dev", policy: "data-path", message: "opens the console", weaken: (rs) => { const u = upload(rs, "pgbouncer", "pgbouncer_hba.conf"); u.content = u.content.replace(/127\.0\.0\.1\/32/, "0.0.0.0/0"); } },
    // connections the rendered files need, refused by the rendered NetworkPolicies
    { name: "pgBackRest's credentials from the metadata address the egress refuses", stack: "prod", policy: "rendered-connections", message: /postgres -> 169\.254\.169\.254:80\/TCP, needed by pgbackrest\/pgbackrest\.conf: repo1-s3-key-type=auto .*refused by the egress of NetworkPolicy postgres-egress/, weaken: (rs) => { const d = configData(rs, "postgres-config"); d["pgbackrest__pgbackrest.conf"] = d["pgbackrest__pgbackrest.conf"]!.replace("repo1-s3-key-type=web-id", "repo1-s3-key-type=auto"); } },
    { name: "the webhook receiver moved to a port Alertmanager's egress closes", stack: "prod", policy: "rendered-connections", message: /alertmanager -> incidents\.example\.com:8443\/TCP, needed by alertmanager\.yml: receiver \w+ webhook/, weaken: (rs) => { const d = configData(rs, "alertmanager-config"); d["alertmanager.yml"] = d["alertmanager.yml"]!.replace("https://incidents.example.com/", "https://incidents.example.com:8443/"); } },
    { name: "the PgBouncer console opened to 127.0.0.6, where a mesh sidecar's inbound traffic comes from", stack: "prod", policy: "data-path", message: /127\.0\.0\.6\/32.*opens the console beyond PgBouncer's loopback/, weaken: (rs) => { const d = configData(rs, "pgbouncer-config"); d["pgbouncer_hba.conf"] = d["pgbouncer_hba.conf"]!.replace("127.0.0.1/32", "127.0.0.6/32"); } },
    // the way the backup runs reach PostgreSQL
    { name: "pgBackRest's TLS server letting in any client", stack: "prod", policy: "backup-path", message: /tls-server-auth=\*=flowviz lets in any client/, weaken: (rs) => { const d = configData(rs, "postgres-backup-server-config"); d["pgbackrest__pgbackrest.conf"] = d["pgbackrest__pgbackrest.conf"]!.replace(/^tls-server-auth=.*$/m, "tls-server-auth=*=flowviz"); } },
    { name: "the TLS server trusting the public web's CAs", stack: "prod", policy: "backup-path", message: /tls-server-ca-file is \/etc\/ssl\/certs\/ca-certificates\.crt/, weaken: (rs) => { const d = configData(rs, "postgres-backup-server-config"); d["pgbackrest__pgbackrest.conf"] = d["pgbackrest__pgbackrest.conf"]!.replace(/^tls-server-ca-file=.*$/m, "tls-server-ca-file=/etc/ssl/certs/ca-certificates.crt"); } },
    { name: "the backup runs reaching PostgreSQL over SSH, unverified", stack: "prod", policy: "backup-path", message: /\[flowviz\] reaches PostgreSQL as pg1-host-type ssh/, weaken: (rs) => { const d = configData(rs, "postgres-backup-config"); d["pgbackrest__pgbackrest.conf"] = d["pgbackrest__pgbackrest.conf"]!.replace(/^pg1-host-type=tls\n/m, "").replace(/^pg1-host-ca-file=.*\n/m, ""); } },
    { name: "the runs' repository unencrypted", stack: "prod", policy: "backup-path", message: /repo1-cipher-type is unset \(none\)/, weaken: (rs) => { const d = configData(rs, "postgres-backup-config"); d["pgbackrest__pgbackrest.conf"] = d["pgbackrest__pgbackrest.conf"]!.replace(/^repo1-cipher-type=.*\n/m, ""); } },
    { name: "PostgreSQL's archive to a store it does not verify", stack: "prod", policy: "backup-path", message: /repo1-storage-verify-tls is off/, weaken: (rs) => { const d = configData(rs, "postgres-config"); d["pgbackrest__pgbackrest.conf"] = d["pgbackrest__pgbackrest.conf"]!.replace(/^repo1-storage-verify-tls=y$/m, "repo1-storage-verify-tls=n"); } },
    { name: "the TLS server's configuration nowhere to be read (Docker)", stack: "dev", policy: "backup-path", message: /no rendered pgbackrest.conf configures pgBackRest's TLS server/, weaken: (rs) => { const c = docker(rs, "postgres-backup-server"); const list = inner(c.uploads) as { file: string }[]; const kept = list.filter((u) => !u.file.endsWith("/pgbackrest.conf")); if (Array.isArray(c.uploads)) c.uploads = kept; else c.uploads.value = kept; } },
    // Pod Security and namespaces
    {
        name: "the app namespace privileged, the API with hostPID, a hostPath / and SYS_ADMIN",
        stack: "prod",
        policy: "namespace-levels",
        message: /api: container api .* at Pod Security privileged/,
        weaken: (rs) => {
            get(rs, "core/v1:Namespace", "kubernetes-namespace").inputs.metadata.labels["pod-security.kubernetes.io/enforce"] = "privileged";
            const pod = podSpec(rs, "apps/v1:Deployment", "api");
            Object.assign(pod, { hostPID: true, volumes: [...(pod.volumes ?? []), { name: "root", hostPath: { path: "/" } }] });
            pod.containers[0].securityContext.capabilities = { add: ["SYS_ADMIN"] };
        },
    },
    { name: "a debug pod in the host namespace", stack: "prod", policy: "namespace-levels", message: /debug: container debug .* only .*node-exporter/, weaken: (rs) => rs.push(pod("debug", "flowviz-host")) },
    { name: "a workload in a namespace the stack does not declare", stack: "prod", policy: "namespace-levels", message: "namespace default, which the stack does not declare", weaken: (rs) => rs.push(pod("stray", "default")) },
    { name: "the host namespace at privileged with nothing that needs it", stack: "prod", policy: "namespace-levels", message: "holds no host daemon", weaken: (rs) => void (get(rs, "apps/v1:DaemonSet", "node-exporter").inputs.metadata.namespace = "flowviz") },
    { name: "a container added to the API that runs privileged", stack: "prod", policy: "pod-security", message: "is privileged", weaken: (rs) => podSpec(rs, "apps/v1:Deployment", "api").containers.push({ ...container(rs, "apps/v1:Deployment", "api"), name: "debug", securityContext: { privileged: true } }) },
    // NetworkPolicies
    { name: "an ingress rule [{}]", stack: "prod", policy: "network-policy", message: "ingress rule 0 allows every source on every port", weaken: (rs) => void (get(rs, "NetworkPolicy", "api-ingress").inputs.spec.ingress = [{}]) },
    { name: "an ingress rule from every namespace", stack: "prod", policy: "network-policy", message: "allows every source", weaken: (rs) => void (get(rs, "NetworkPolicy", "postgres-ingress").inputs.spec.ingress = [{ from: [{ namespaceSelector: {} }] }]) },
    { name: "an egress rule to 0.0.0.0/0 on every port", stack: "prod", policy: "network-policy", message: "egress rule 0 allows every destination", weaken: (rs) => void Object.assign(get(rs, "NetworkPolicy", "api-ingress").inputs.spec, { policyTypes: ["Ingress", "Egress"], egress: [{ to: [{ ipBlock: { cidr: "0.0.0.0/0" } }] }] }) },
    { name: "default deny for ingress only (egress open again)", stack: "prod", policy: "network-policy", message: "namespace flowviz has no default-deny egress NetworkPolicy", weaken: (rs) => void (get(rs, "NetworkPolicy", "kubernetes-default-deny").inputs.spec.policyTypes = ["Ingress"]) },
    // Valkey
    { name: "Valkey's default user on without a password", stack: "prod", policy: "valkey-acl", message: "default user is not switched off", weaken: (rs) => void (secretData(rs, "valkey-secret")["valkey.conf"] = secretData(rs, "valkey-secret")["valkey.conf"]!.replace("user default off", "user default on nopass ~* +@all")) },
    { name: "the app's Valkey user with +@all", stack: "dev", policy: "valkey-acl", message: "is granted +@all", weaken: (rs) => { const u = upload(rs, "valkey", "valkey.conf"); u.content = u.content.replace("-@all", "+@all"); } },
    { name: "the exporter's Valkey user let at every key", stack: "prod", policy: "valkey-acl", message: "user redis_exporter may write keys or use channels", weaken: (rs) => void (secretData(rs, "valkey-secret")["valkey.conf"] = secretData(rs, "valkey-secret")["valkey.conf"]!.replace("%R~celery", "~*")) },
    { name: "the exporter's Valkey user given the admin commands", stack: "prod", policy: "valkey-acl", message: "user redis_exporter is granted +@admin", weaken: (rs) => void (secretData(rs, "valkey-secret")["valkey.conf"] = secretData(rs, "valkey-secret")["valkey.conf"]!.replace("+memory|usage", "+memory|usage +@admin")) },
    { name: "a Valkey user of nobody's", stack: "dev", policy: "valkey-acl", message: "user backdoor is none of the broker's users", weaken: (rs) => { const u = upload(rs, "valkey", "valkey.conf"); u.content += "user backdoor on #5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8 ~* -@all +get\n"; } },
    { name: "Valkey's plaintext port back on", stack: "prod", policy: "valkey-acl", message: "the plaintext port is 6379", weaken: (rs) => void (secretData(rs, "valkey-secret")["valkey.conf"] = secretData(rs, "valkey-secret")["valkey.conf"]!.replace(/^port 0$/m, "port 6379")) },
    { name: "valkey.conf nowhere to be read", stack: "prod", policy: "valkey-acl", message: "valkey.conf: not found", weaken: (rs) => void delete secretData(rs, "valkey-secret")["valkey.conf"] },
    // credentials outside Secrets
    { name: "a plaintext userlist in a ConfigMap", stack: "prod", policy: "no-plain-credentials", message: "userlist.txt holds PgBouncer userlist entries", weaken: (rs) => move(secretData(rs, "pgbouncer-secret"), configData(rs, "pgbouncer-config"), "userlist.txt") },
    { name: "a TLS private key in a ConfigMap", stack: "prod", policy: "no-plain-credentials", message: "tls__server.key holds a private key", weaken: (rs) => move(secretData(rs, "postgres-secret"), configData(rs, "postgres-config"), "tls__server.key", () => "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----\n") },
    { name: "DATA_SOURCE_PASS as a plain env value", stack: "prod", policy: "no-plain-credentials", message: "DATA_SOURCE_PASS as a plain env value", weaken: (rs) => container(rs, "apps/v1:Deployment", "postgres-exporter").env.push({ name: "DATA_SOURCE_PASS", value: "hunter2" }) },
    { name: "a libpq DSN with password= in a plain env value", stack: "prod", policy: "no-plain-credentials", message: "DATA_SOURCE_NAME as a plain env value", weaken: (rs) => container(rs, "apps/v1:Deployment", "postgres-exporter").env.push({ name: "DATA_SOURCE_NAME", value: "host=postgres user=x password=hunter2" }) },
    // images, admin APIs, Grafana
    { name: "image grafana/grafana:main", stack: "prod", policy: "pinned-images", message: "grafana/grafana:main is not pinned", weaken: (rs) => void (container(rs, "apps/v1:StatefulSet", "grafana").image = "grafana/grafana:main") },
    { name: "image valkey:nightly on Docker", stack: "dev", policy: "pinned-images", message: "valkey/valkey:nightly is not pinned", weaken: (rs) => void (get(rs, "remoteImage:RemoteImage", "image-valkey-valkey-8-1-4-alpine").inputs.name = "valkey/valkey:nightly") },
    { name: "Prometheus --web.enable-admin-api", stack: "prod", policy: "no-admin-apis", message: "Prometheus' admin API", weaken: (rs) => container(rs, "apps/v1:StatefulSet", "prometheus").args.push("--web.enable-admin-api") },
    { name: "Grafana anonymous access as Admin", stack: "prod", policy: "grafana-access", message: "lets anonymous users in (GF_AUTH_ANONYMOUS_ENABLED, as Admin)", weaken: (rs) => setEnv(container(rs, "apps/v1:StatefulSet", "grafana"), { GF_AUTH_ANONYMOUS_ENABLED: "true", GF_AUTH_ANONYMOUS_ORG_ROLE: "Admin" }) },
    { name: "Grafana on its published default secret_key, external snapshots on (Docker)", stack: "dev", policy: "grafana-access", message: "published default key", weaken: (rs) => void (docker(rs, "grafana").envs = (docker(rs, "grafana").envs as string[]).filter((e) => !/^GF_(SECURITY_SECRET_KEY__FILE|SNAPSHOTS_EXTERNAL_ENABLED)=/.test(String(inner(e))))) },
    // RBAC and exposure
    { name: "a ClusterRole with *", stack: "prod", policy: "least-privilege-rbac", message: "a wildcard", weaken: (rs) => rs.push(resource("rbac.authorization.k8s.io/v1:ClusterRole", "everything", { rules: [{ apiGroups: ["*"], resources: ["*"], verbs: ["*"] }] })) },
    { name: "Prometheus' Role with impersonate", stack: "prod", policy: "least-privilege-rbac", message: "grants the impersonate verb", weaken: (rs) => get(rs, "rbac.authorization.k8s.io/v1:Role", "prometheus-discovery").inputs.rules.push({ apiGroups: [""], resources: ["users"], verbs: ["impersonate"] }) },
    { name: "a binding to cluster-admin", stack: "prod", policy: "least-privilege-rbac", message: "binds ClusterRole cluster-admin", weaken: (rs) => void (get(rs, "rbac.authorization.k8s.io/v1:RoleBinding", "prometheus-discovery").inputs.roleRef = { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" }) },
    { name: "a Service with externalIPs", stack: "prod", policy: "no-public-exposure", message: "sets externalIPs 203.0.113.7", weaken: (rs) => void (get(rs, "core/v1:Service", "grafana-service").inputs.spec.externalIPs = ["203.0.113.7"]) },
    { name: "a LoadBalancer Service", stack: "prod", policy: "no-public-exposure", message: "is of type LoadBalancer", weaken: (rs) => void (get(rs, "core/v1:Service", "api-service").inputs.spec.type = "LoadBalancer") },
    { name: "an Ingress nobody declared", stack: "prod", policy: "no-public-exposure", message: "Ingress grafana exposes the cluster", weaken: (rs) => rs.push(resource("networking.k8s.io/v1:Ingress", "grafana", { metadata: { namespace: "flowviz" }, spec: { rules: [{ host: "grafana.example.com" }] } })) },
    { name: "a Docker port on a public address", stack: "dev", policy: "no-public-exposure", message: "on 203.0.113.7", weaken: (rs) => void (docker(rs, "grafana").ports = [{ internal: 3000, external: 3000, ip: "203.0.113.7" }]) },
    { name: "a Docker port on every interface", stack: "dev", policy: "no-public-exposure", message: "on every interface", weaken: (rs) => void (docker(rs, "grafana").ports = [{ internal: 3000, external: 3000, ip: "0.0.0.0" }]) },
    // Docker isolation
    // RBAC widened without a wildcard or a dangerous verb
    { name: "the API's ServiceAccount given a Role that reads Secrets", stack: "prod", policy: "least-privilege-rbac", message: "rule reads Secrets", weaken: (rs) => rs.push(resource("rbac.authorization.k8s.io/v1:Role", "api-secrets", { metadata: { namespace: "flowviz" }, rules: [{ apiGroups: [""], resources: ["secrets"], verbs: ["get"] }] })) },
    { name: "Prometheus' Role widened to exec into pods", stack: "prod", policy: "least-privilege-rbac", message: "runs commands in, attaches to or proxies to pods", weaken: (rs) => get(rs, "rbac.authorization.k8s.io/v1:Role", "prometheus-discovery").inputs.rules.push({ apiGroups: [""], resources: ["pods/exec"], verbs: ["create"] }) },
    { name: "Prometheus' Role widened to create pods (which run as any ServiceAccount)", stack: "prod", policy: "least-privilege-rbac", message: "creates or changes workloads", weaken: (rs) => get(rs, "rbac.authorization.k8s.io/v1:Role", "prometheus-discovery").inputs.rules.push({ apiGroups: [""], resources: ["pods"], verbs: ["create"] }) },
    { name: "Prometheus' binding handed to every authenticated user", stack: "prod", policy: "least-privilege-rbac", message: "to Group system:authenticated", weaken: (rs) => get(rs, "rbac.authorization.k8s.io/v1:RoleBinding", "prometheus-discovery").inputs.subjects.push({ kind: "Group", name: "system:authenticated", apiGroup: "rbac.authorization.k8s.io" }) },
    { name: "a binding to a system: ClusterRole", stack: "prod", policy: "least-privilege-rbac", message: "binds ClusterRole system:controller:job-controller", weaken: (rs) => void (get(rs, "rbac.authorization.k8s.io/v1:RoleBinding", "prometheus-discovery").inputs.roleRef = { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:controller:job-controller" }) },
    { name: "an aggregating ClusterRole", stack: "prod", policy: "least-privilege-rbac", message: "aggregates other ClusterRoles' rules", weaken: (rs) => rs.push(resource("rbac.authorization.k8s.io/v1:ClusterRole", "gathers", { aggregationRule: { clusterRoleSelectors: [{ matchLabels: { "rbac.example.com/aggregate": "true" } }] }, rules: [] })) },
    // a Secret handed to a workload that is not its own
    { name: "the API given PostgreSQL's superuser password", stack: "prod", policy: "workload-secrets", message: /^api reads Secret postgres-secret .* which is postgres's/, weaken: (rs) => container(rs, "apps/v1:Deployment", "api").env.push({ name: "PGPASSWORD", valueFrom: { secretKeyRef: { name: secretNameOf(rs, "postgres-secret"), key: "secrets__password" } } }) },
    { name: "the worker mounting PgBouncer's userlist and key", stack: "prod", policy: "workload-secrets", message: /^worker reads Secret pgbouncer-secret .* which is pgbouncer's/, weaken: (rs) => void podSpec(rs, "apps/v1:Deployment", "worker").volumes.push({ name: "stolen", secret: { secretName: secretNameOf(rs, "pgbouncer-secret") } }) },
    { name: "Grafana mounting an API token it has no use for", stack: "prod", policy: "workload-secrets", message: "grafana mounts a Kubernetes API token", weaken: (rs) => void (podSpec(rs, "apps/v1:StatefulSet", "grafana").automountServiceAccountToken = true) },
    // where data lives
    { name: "PostgreSQL's data on an emptyDir", stack: "prod", policy: "data-volumes", message: /postgres: PGDATA \S+ is on volume data \(emptyDir\)/, weaken: (rs) => { const v = podSpec(rs, "apps/v1:StatefulSet", "postgres").volumes.find((x: any) => x.persistentVolumeClaim); delete v.persistentVolumeClaim; v.emptyDir = {}; } },
    { name: "PostgreSQL's data moved to the container's own filesystem", stack: "prod", policy: "data-volumes", message: "is on the container's own filesystem", weaken: (rs) => setEnv(container(rs, "apps/v1:StatefulSet", "postgres"), { PGDATA: "/pgdata" }) },
    { name: "the API mounting the node's /etc", stack: "prod", policy: "data-volumes", message: "api mounts the node's /etc", weaken: (rs) => void podSpec(rs, "apps/v1:Deployment", "api").volumes.push({ name: "node", hostPath: { path: "/etc" } }) },
    { name: "PostgreSQL's data outside its Docker volume", stack: "dev", policy: "data-volumes", message: "is not on a Docker volume of the stack", weaken: (rs) => void (docker(rs, "postgres").volumes = (docker(rs, "postgres").volumes as any[]).filter((v) => !v.containerPath.startsWith("/var/lib/postgresql"))) },
    // the backups gutted while their files stay clean
    { name: "WAL archived to /bin/true", stack: "prod", policy: "backup-path", message: "archive_command is \"/bin/true\"", weaken: (rs) => editConf(rs, (t) => t.replace(/^archive_command = .*$/m, "archive_command = '/bin/true'")) },
    { name: "archiving off", stack: "prod", policy: "backup-path", message: "archive_mode is off", weaken: (rs) => editConf(rs, (t) => t.replace(/^archive_mode = on$/m, "archive_mode = off")) },
    { name: "the full backups suspended", stack: "prod", policy: "backup-path", message: "CronJob postgres-backup-full is suspended", weaken: (rs) => void (get(rs, "batch/v1:CronJob", "postgres-backup-full").inputs.spec.suspend = true) },
    // more ways out
    { name: "a Gateway API route nobody declared", stack: "prod", policy: "no-public-exposure", message: "HTTPRoute grafana routes traffic from outside", weaken: (rs) => rs.push(resource("gateway.networking.k8s.io/v1:HTTPRoute", "grafana", { metadata: { namespace: "flowviz" }, spec: { parentRefs: [{ name: "public" }], rules: [{ backendRefs: [{ name: "grafana", port: 3000 }] }] } })) },
    { name: "every Docker port published", stack: "dev", policy: "no-public-exposure", message: "publishAllPorts", weaken: (rs) => void (docker(rs, "grafana").publishAllPorts = true) },
    { name: "a Docker container without seccomp", stack: "dev", policy: "docker-isolation", message: "seccomp=unconfined", weaken: (rs) => void (docker(rs, "api").securityOpts = ["no-new-privileges:true", "seccomp=unconfined"]) },
    { name: "a Docker container mounting the host's /etc", stack: "dev", policy: "docker-isolation", message: "mounts the host's /etc", weaken: (rs) => void (docker(rs, "worker").mounts = [{ type: "bind", source: "/etc", target: "/host-etc" }]) },
    { name: "a Docker container in the host's cgroup namespace", stack: "dev", policy: "docker-isolation", message: "cgroupnsMode: host", weaken: (rs) => void (docker(rs, "api").cgroupnsMode = "host") },
    { name: "a privileged Docker container", stack: "dev", policy: "docker-isolation", message: "flowviz-policy-api is privileged", weaken: (rs) => void (docker(rs, "api").privileged = true) },
    { name: "a Docker container on the host network undeclared", stack: "dev", policy: "docker-isolation", message: "shares the host's network namespace", weaken: (rs) => void (docker(rs, "api").networkMode = "host") },
    { name: "a Docker container adding SYS_ADMIN", stack: "dev", policy: "docker-isolation", message: "adds capability SYS_ADMIN", weaken: (rs) => void (docker(rs, "worker").capabilities = { drops: ["ALL"], adds: ["SYS_ADMIN"] }) },
    { name: "a Docker container that may gain privileges", stack: "dev", policy: "docker-isolation", message: "may gain privileges", weaken: (rs) => void (docker(rs, "valkey").securityOpts = []) },
    { name: "the Docker socket mounted", stack: "dev", policy: "docker-isolation", message: "mounts the container runtime's socket", weaken: (rs) => void (docker(rs, "prometheus").mounts = [{ type: "bind", source: "/var/run/docker.sock", target: "/var/run/docker.sock" }]) },
    // a move from the StatefulSet engine (fromStatefulSet stream)
    { name: "the replication role given a password", stack: "moving", policy: "database-roles", message: "streaming_replica is given a password", weaken: (rs) => editRoles(rs, (t) => t.replace("REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD NULL", "REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD 'SCRAM-SHA-256$4096:x'")) },
    { name: "REPLICATION for the app role beside the migration's", stack: "moving", policy: "database-roles", message: "role flowviz is given REPLICATION", weaken: (rs) => appendRoles(rs, "ALTER ROLE flowviz REPLICATION;") },
    { name: "replication by password for every role", stack: "moving", policy: "data-path", message: "lets a replication connection in", weaken: (rs) => void (configData(rs, "postgres-config")["pg_hba.conf"] = configData(rs, "postgres-config")["pg_hba.conf"]!.replace("hostssl    replication  streaming_replica  all  cert", "hostssl    replication  all  all  scram-sha-256")) },
    { name: "the Cluster cloning without checking the server's certificate", stack: "moving", policy: "cloudnative-pg", message: "externalClusters statefulset connects with sslmode require", weaken: (rs) => void (get(rs, "Cluster", "postgres").inputs.spec.externalClusters[0].connectionParameters.sslmode = "require") },
    { name: "PgBouncer sent to the Cluster while it still streams", stack: "moving", policy: "cloudnative-pg", message: "is a replica still following another server", weaken: (rs) => void (configData(rs, "pgbouncer-config")["pgbouncer.ini"] = configData(rs, "pgbouncer-config")["pgbouncer.ini"]!.replace("host=postgres.flowviz.svc.cluster.local", "host=postgres-rw.flowviz.svc.cluster.local")) },
    { name: "the StatefulSet no longer letting the Cluster's pods in", stack: "moving", policy: "rendered-connections", message: /needed by Cluster postgres: externalClusters statefulset .*refused by the ingress of NetworkPolicy default-deny, postgres\b/, weaken: (rs) => { const rule = get(rs, "NetworkPolicy", "postgres-ingress").inputs.spec.ingress[0]; rule.from = rule.from.filter((f: any) => f.podSelector?.matchLabels?.["app.kubernetes.io/name"] !== "postgres-cluster"); } },
    // roles.sql
    { name: "ALTER ROLE <app> SUPERUSER in roles.sql", stack: "prod", policy: "database-roles", message: "role flowviz is given SUPERUSER", weaken: (rs) => appendRoles(rs, "ALTER ROLE flowviz SUPERUSER;") },
    { name: "BYPASSRLS and CREATEROLE in the app's own ALTER ROLE", stack: "prod", policy: "database-roles", message: /role flowviz is given (BYPASSRLS|CREATEROLE)/, weaken: (rs) => editRoles(rs, (t) => t.replace(/(ALTER ROLE "flowviz" WITH LOGIN NOSUPERUSER NOCREATEDB) NOCREATEROLE NOREPLICATION NOBYPASSRLS/, "$1 CREATEROLE NOREPLICATION BYPASSRLS")) },
    { name: "the app made a member of the owner", stack: "prod", policy: "database-roles", message: "flowviz is made a member of flowviz_owner", weaken: (rs) => appendRoles(rs, 'GRANT "flowviz_owner" TO "flowviz";') },
    { name: "the database handed to the app", stack: "prod", policy: "database-roles", message: "login role flowviz is made an owner", weaken: (rs) => appendRoles(rs, 'ALTER DATABASE "flowviz" OWNER TO "flowviz";') },
    { name: "pg_execute_server_program for the exporter (Docker)", stack: "dev", policy: "database-roles", message: "postgres_exporter is made a member of pg_execute_server_program", weaken: (rs) => { const u = upload(rs, "postgres-roles", "roles.sql"); u.content += "GRANT pg_execute_server_program TO postgres_exporter;\n"; } },
    // the audit trail
    { name: "pgAudit dropped from the preloaded libraries", stack: "prod", policy: "audit-trail", message: "pgaudit is not in shared_preload_libraries", weaken: (rs) => editConf(rs, (t) => t.replace("pg_stat_statements,pgaudit", "pg_stat_statements")) },
    { name: "bind parameters back in the log (Docker)", stack: "dev", policy: "audit-trail", message: "log_parameter_max_length is -1", weaken: (rs) => { const u = upload(rs, "postgres", "postgresql.conf"); u.content = u.content.replace(/^log_parameter_max_length = 0$/m, "log_parameter_max_length = -1"); } },
    { name: "connections no longer logged", stack: "prod", policy: "audit-trail", message: "log_connections is off", weaken: (rs) => editConf(rs, (t) => t.replace(/^log_connections = on$/m, "log_connections = off")) },
    { name: "the app's writes no longer audited (roles.sql)", stack: "prod", policy: "database-roles", message: "role flowviz audits only 'ddl'", weaken: (rs) => editRoles(rs, (t) => t.replace(`ALTER ROLE "flowviz" SET pgaudit.log = 'write, ddl, role';`, `ALTER ROLE "flowviz" SET pgaudit.log = 'ddl';`)) },
    { name: "another spelling of a grant: every privilege on every table for the exporter", stack: "prod", policy: "database-roles", message: "\"GRANT ALL PRIVILEGES ON ALL TABLES IN SCHEMA public TO postgres_exporter\" is no statement the generator writes", weaken: (rs) => appendRoles(rs, "GRANT ALL PRIVILEGES ON ALL TABLES IN SCHEMA public TO postgres_exporter;") },
    { name: "a power given inside a DO block", stack: "prod", policy: "database-roles", message: "is no statement the generator writes", weaken: (rs) => appendRoles(rs, "DO $x$ BEGIN EXECUTE format('ALTER ROLE %I SUPER' || 'USER', 'flowviz'); END $x$;") },
    { name: "default privileges widened for the app", stack: "prod", policy: "database-roles", message: "ALTER DEFAULT PRIVILEGES FOR ROLE \"flowviz_owner\" IN SCHEMA public GRANT ALL ON TABLES TO \"flowviz\"\" is no statement", weaken: (rs) => appendRoles(rs, 'ALTER DEFAULT PRIVILEGES FOR ROLE "flowviz_owner" IN SCHEMA public GRANT ALL ON TABLES TO "flowviz";') },
    { name: "ALTER SYSTEM in roles.sql", stack: "prod", policy: "database-roles", message: "changes the server's settings", weaken: (rs) => appendRoles(rs, "ALTER SYSTEM SET log_connections = off;") },
    // what the pack already held, weakened once more
    { name: "the data volume unprotected", stack: "prod", policy: "protect-data", message: "postgres-data holds data but is not protected", weaken: (rs) => void (get(rs, "PersistentVolumeClaim", "postgres-data").protect = false) },
    { name: "PgBouncer without limits", stack: "prod", policy: "container-resources", message: "container pgbouncer has no memory limits", weaken: (rs) => void delete container(rs, "apps/v1:StatefulSet", "pgbouncer").resources.limits.memory },
    { name: "the API with a writable root", stack: "prod", policy: "non-root", message: "writable root filesystem", weaken: (rs) => void (container(rs, "apps/v1:Deployment", "api").securityContext.readOnlyRootFilesystem = false) },
    { name: "PostgreSQL's password in the Docker environment", stack: "dev", policy: "no-credentials-in-docker-env", message: "gets POSTGRES_PASSWORD", weaken: (rs) => (docker(rs, "postgres").envs as string[]).push("POSTGRES_PASSWORD=hunter2") },
    // the files read as their servers read them
    { name: "log_connections switched off in capitals, after the generated line (the last one wins)", stack: "prod", policy: "audit-trail", message: "log_connections is off", weaken: (rs) => editConf(rs, (t) => `${t}LOG_CONNECTIONS = off\n`) },
    { name: "bind parameters back in the log with no `=`", stack: "prod", policy: "audit-trail", message: "log_parameter_max_length is -1", weaken: (rs) => editConf(rs, (t) => `${t}log_parameter_max_length -1\n`) },
    { name: "postgresql.conf including another file", stack: "prod", policy: "whole-files", message: /"include_dir conf\.d" makes the server read a file the pack never sees/, weaken: (rs) => editConf(rs, (t) => `${t}include_dir 'conf.d'\n`) },
    { name: "pgbouncer.ini including another file", stack: "prod", policy: "whole-files", message: "%include /etc/pgbouncer/extra.ini", weaken: (rs) => void (configData(rs, "pgbouncer-config")["pgbouncer.ini"] += "%include /etc/pgbouncer/extra.ini\n") },
    { name: "valkey.conf including another file", stack: "prod", policy: "whole-files", message: "INCLUDE /data/extra.conf", weaken: (rs) => void (secretData(rs, "valkey-secret")["valkey.conf"] += "INCLUDE /data/extra.conf\n") },
    { name: "a second, different copy of pg_hba.conf in a Secret", stack: "prod", policy: "whole-files", message: "pg_hba.conf: 2 copies with different contents", weaken: (rs) => void (secretData(rs, "postgres-secret")["pg_hba.conf"] = "host all all 0.0.0.0/0 trust\n") },
    { name: "ssl switched off on PostgreSQL's command line (its start script)", stack: "prod", policy: "whole-files", message: '"-c ssl=off" on PostgreSQL\'s command line overrides postgresql.conf', weaken: (rs) => void (configData(rs, "postgres-config")["start.sh"] = configData(rs, "postgres-config")["start.sh"]!.replace(/^(exec .*)$/m, "$1 '-c' 'ssl=off'")) },
    { name: "a long-option override in PostgreSQL's start script (Docker)", stack: "dev", policy: "whole-files", message: '"-c log_connections=off"', weaken: (rs) => { const u = upload(rs, "postgres", "start.sh"); u.content = u.content.replace(/^(exec .*)$/m, "$1 --log_connections=off"); } },
    { name: "postgres run straight from the container with an override", stack: "prod", policy: "whole-files", message: /postgres container postgres: "-c fsync=off"/, weaken: (rs) => void Object.assign(container(rs, "apps/v1:StatefulSet", "postgres"), { command: ["postgres"], args: ["-c", "config_file=/etc/postgresql/postgresql.conf", "-c", "fsync=off"] }) },
    { name: "pgbouncer.ini's client TLS switched off in capitals", stack: "prod", policy: "data-path", message: "client_tls_sslmode is disable", weaken: (rs) => void (configData(rs, "pgbouncer-config")["pgbouncer.ini"] += "CLIENT_TLS_SSLMODE = disable\n") },
    { name: "PostgreSQL without a startup probe", stack: "prod", policy: "startup-probe", message: "has a livenessProbe but no startupProbe", weaken: (rs) => void delete container(rs, "apps/v1:StatefulSet", "postgres").startupProbe },
    { name: "a PgBouncer pool PostgreSQL cannot hold", stack: "prod", policy: "connection-capacity", message: "server connections", weaken: (rs) => void (configData(rs, "pgbouncer-config")["pgbouncer.ini"] += "default_pool_size = 150\n") },
];

function resource(type: string, name: string, inputs: Record<string, unknown>): RecordedResource {
    return { type: `kubernetes:${type}`, name, inputs, protect: false, retainOnDelete: false, deleteBeforeReplace: false, dependsOn: [] };
}
function pod(name: string, namespace: string): RecordedResource {
    const c = { name, image: "busybox:1.37.0", resources: { requests: { cpu: "1", memory: "1Gi" }, limits: { cpu: "1", memory: "1Gi" } } };
    return resource("core/v1:Pod", name, { metadata: { name, namespace }, spec: { containers: [c] } });
}
function setEnv(c: { env: { name: string; value?: string }[] }, values: Record<string, string>): void {
    c.env = [...c.env.filter((e) => !(e.name in values)), ...Object.entries(values).map(([name, value]) => ({ name, value }))];
}
/** The name a pod uses for one of the render's auto-named Secrets. */
const secretNameOf = (rs: Resources, resourceName: string) => get(rs, "core/v1:Secret", resourceName).inputs.metadata?.name ?? `${resourceName}-0a1b2c3d`;
const editConf = (rs: Resources, edit: (t: string) => string) => void (configData(rs, "postgres-config")["postgresql.conf"] = edit(configData(rs, "postgres-config")["postgresql.conf"]!));
const editRoles = (rs: Resources, edit: (t: string) => string) => void (secretData(rs, "postgres-roles-secret")["roles.sql"] = edit(secretData(rs, "postgres-roles-secret")["roles.sql"]!));
const appendRoles = (rs: Resources, sql: string) => editRoles(rs, (t) => `${t}${sql}\n`);

/** The serving CloudNativePG Cluster's spec. */
const cluster = (rs: Resources) => get(rs, "postgresql.cnpg.io/v1:Cluster", "postgres").inputs.spec;
const cnpgVariants: Variant[] = [
    { name: "a Cluster whose pg_hba lets plaintext in through CloudNativePG's default rule", stack: "cnpg", policy: "cloudnative-pg", message: "does not end with \"host all all all reject\"", weaken: (rs) => void cluster(rs).postgresql.pg_hba.pop() },
    { name: "a Cluster pg_hba line with trust", stack: "cnpg", policy: "cloudnative-pg", message: "uses trust", weaken: (rs) => void cluster(rs).postgresql.pg_hba.unshift("hostssl all all 0.0.0.0/0 trust") },
    { name: "a Cluster with the superuser's login on", stack: "cnpg", policy: "cloudnative-pg", message: "enableSuperuserAccess is true", weaken: (rs) => void (cluster(rs).enableSuperuserAccess = true) },
    { name: "a Cluster setting a parameter the operator fixes", stack: "cnpg", policy: "cloudnative-pg", message: "sets archive_command", weaken: (rs) => void (cluster(rs).postgresql.parameters.archive_command = "/bin/true") },
    { name: "a Cluster without a synchronous standby", stack: "cnpg", policy: "cloudnative-pg", message: "no synchronous standby", weaken: (rs) => void delete cluster(rs).postgresql.synchronous },
    { name: "a Cluster on the operator's own CA", stack: "cnpg", policy: "cloudnative-pg", message: "certificates.serverCASecret is unset", weaken: (rs) => void delete cluster(rs).certificates.serverCASecret },
    { name: "a Cluster archiving through the deprecated in-tree barmanObjectStore", stack: "cnpg", policy: "cloudnative-pg", message: "in-tree archiver", weaken: (rs) => void (cluster(rs).backup = { barmanObjectStore: { destinationPath: "s3://x" } }) },
    { name: "a Cluster logging bind parameters, pgAudit off", stack: "cnpg", policy: "cloudnative-pg", message: "log_parameter_max_length is -1", weaken: (rs) => { const p = cluster(rs).postgresql.parameters; p.log_parameter_max_length = "-1"; p["pgaudit.log"] = "none"; } },
    { name: "PgBouncer pointed at the Cluster's read-only Service", stack: "cnpg", policy: "cloudnative-pg", message: "not a serving Cluster's read-write Service", weaken: (rs) => { const d = configData(rs, "pgbouncer-config"); d["pgbouncer.ini"] = d["pgbouncer.ini"]!.replace("postgres-rw.", "postgres-ro."); } },
    { name: "an unprotected Cluster", stack: "cnpg", policy: "protect-data", message: "postgres holds data but is not protected", weaken: (rs) => void (get(rs, "postgresql.cnpg.io/v1:Cluster", "postgres").protect = false) },
    { name: "a Cluster whose containers may escalate privileges and keep their capabilities", stack: "cnpg", policy: "cloudnative-pg", message: "Pod Security restricted", weaken: (rs) => void (cluster(rs).securityContext = { allowPrivilegeEscalation: true }) },
    { name: "the app's managed role given CREATEROLE", stack: "cnpg", policy: "cloudnative-pg", message: "managed role flowviz is given CREATEROLE", weaken: (rs) => void (cluster(rs).managed.roles.find((r: any) => r.name === "flowviz").createrole = true) },
    { name: "the app's managed role made a member of the owner", stack: "cnpg", policy: "cloudnative-pg", message: "managed role flowviz is made a member of flowviz_owner", weaken: (rs) => void (cluster(rs).managed.roles.find((r: any) => r.name === "flowviz").inRoles = ["flowviz_owner"]) },
    { name: "the app's managed role reading every table", stack: "cnpg", policy: "cloudnative-pg", message: "is made a member of pg_read_all_data", weaken: (rs) => void (cluster(rs).managed.roles.find((r: any) => r.name === "flowviz").inRoles = ["pg_read_all_data"]) },
    { name: "a SUPERUSER in the bootstrap SQL's ConfigMap", stack: "cnpg", policy: "cloudnative-pg", message: "bootstrap roles.sql: role flowviz is given SUPERUSER", weaken: (rs) => { const d = configData(rs, "postgres-bootstrap"); d["post-init.sql"] += "ALTER ROLE flowviz SUPERUSER;\n"; } },
    { name: "a grant of the server's files in inline post-init SQL", stack: "cnpg", policy: "cloudnative-pg", message: "flowviz is made a member of pg_read_server_files", weaken: (rs) => void (cluster(rs).bootstrap.initdb.postInitSQL = ["GRANT pg_read_server_files TO flowviz"]) },
    { name: "the ObjectStore's WAL unencrypted", stack: "cnpg", policy: "cloudnative-pg", message: "wal.encryption is unset", weaken: (rs) => void delete get(rs, "barmancloud.cnpg.io/v1:ObjectStore", "postgres-backups").inputs.spec.configuration.wal.encryption },
    { name: "the base backups suspended", stack: "cnpg", policy: "cloudnative-pg", message: "ScheduledBackup postgres-full is suspended", weaken: (rs) => void (get(rs, "postgresql.cnpg.io/v1:ScheduledBackup", "postgres-full").inputs.spec.suspend = true) },
    { name: "a Cluster no longer archiving its WAL", stack: "cnpg", policy: "cloudnative-pg", message: "no plugin archives its WAL", weaken: (rs) => void (cluster(rs).plugins = []) },
    { name: "a Cluster pool PostgreSQL cannot hold", stack: "cnpg", policy: "connection-capacity", message: "server connections", weaken: (rs) => void (cluster(rs).postgresql.parameters.max_connections = "20") },
];
variants.push(...cnpgVariants);

const renders: Partial<Record<Variant["stack"], Resources>> = {};
beforeAll(async () => {
    renders.prod = (await runStack("test/fixtures/good/prod-statefulset.yaml", { stack: "policy" })).resources;
    renders.dev = (await runStack("Pulumi.dev.yaml", { stack: "policy" })).resources;
    renders.cnpg = (await runStack("Pulumi.prod.yaml", { stack: "policy" })).resources;
    renders.moving = (await runStack("test/fixtures/good/prod-migrating.yaml", { stack: "policy" })).resources;
});

describe("weakened variants of our stacks", () => {
    it("cover every mandatory policy", () => {
        const covered = new Set(variants.map((v) => v.policy));
        expect(POLICIES.filter((p) => p.enforcementLevel === "mandatory" && !covered.has(p.name)).map((p) => p.name)).toEqual([]);
    });

    it.each(variants)("$stack: $name is refused by $policy", async ({ stack, policy, message, weaken }) => {
        // the unweakened renders pass every mandatory policy (policy.test.ts, "our stacks")
        const resources = structuredClone(renders[stack]!);
        weaken(resources);
        const found = (await checkPolicies(resources)).filter((v) => v.enforcement === "mandatory" && v.policy === policy).map((v) => v.message);
        const matches = (m: string) => (typeof message === "string" ? m.includes(message) : message.test(m));
        expect(found.some(matches), `${policy} said:\n${found.join("\n") || "(nothing)"}`).toBe(true);
    });
});
