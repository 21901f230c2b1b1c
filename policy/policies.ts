/**
 * The flowviz policy pack's policies: what a reviewer and the Kubernetes control plane
 * would refuse, checked on every resource before it exists. The same objects run in
 * `pulumi preview --policy-pack policy` (index.ts) and offline over every render (render/policy-check.ts).
 */
import type { PolicyResource, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { isPinnedImage } from "../facts/images";
import { isPodSecurityLevel, podSecurityViolations, POD_SECURITY_LABEL } from "./pod-security";
import { containersOf, containerViews, DOCKER, ENV_CREDENTIALS_LABEL, K8S, labelOf, podTemplate } from "./resources";
import { deployedCapacity } from "./deployed";
import { auditTrail, dataPathPolicy, wholeFiles } from "./data-path";
import { dockerIsolation, exposure, namespaceLevels, namespaceOf, networkPolicyRules, rbac } from "./platform";
import { grafanaAccess, noAdminApis, valkeyAcl } from "./services";
import { databaseRoles } from "./roles";
import { cloudnativePgPolicy } from "./cloudnative-pg";
import { renderedConnections } from "./connections";
import { backupPath } from "./backups";
import { dataVolumes, workloadSecrets } from "./workloads";
import { PGBOUNCER_FD_OVERHEAD } from "../facts/pgbouncer";

export type Policy = ResourceValidationPolicy | StackValidationPolicy;

const CREDENTIAL_NAME = /(PASSWORD|PASSWD|PASSPHRASE|(^|_)PASS($|_)|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL)/i;
const URL_WITH_PASSWORD = /\b[a-z][a-z0-9+.-]*:\/\/[^\s/:@]*:[^\s/@]+@/i;
/** A key=value connection string with a password (libpq's `password=`, pgBackRest's `cipher-pass=`). */
const DSN_WITH_PASSWORD = /(^|\s)(password|pass)\s*=\s*\S+/i;
const CREDENTIAL_LINE = /^\s*["']?[\w.-]*(password|passwd|passphrase|pass|secret|token|api_?key|access[_-]?key)["']?\s*[:=]\s*\S+/im;
/** Secrets in a file's own syntax: PEM private keys, userlist verifiers, Valkey ACL passwords. */
const SECRET_MATERIAL: [RegExp, string][] = [
    [/-----BEGIN [A-Z ]*PRIVATE KEY-----/, "a private key"],
    [/^\s*"[^"]+"\s+"(SCRAM-SHA-256\$|md5[0-9a-f]{32})/m, "PgBouncer userlist entries (password verifiers)"],
    [/^\s*user\s+\S+.*\s[#>]\S+/m, "a Valkey ACL password"],
];

/** A credential-looking environment entry; `_FILE` variables name a file, not a value. */
const isCredentialEnv = (name: string, value: string) =>
    (CREDENTIAL_NAME.test(name) && !/_FILE$/.test(name) && value !== "") || URL_WITH_PASSWORD.test(value) || DSN_WITH_PASSWORD.test(value);

const protectData: ResourceValidationPolicy = {
    name: "protect-data",
    description: "Objects that hold data (volume claims, Docker volumes, CloudNativePG Clusters and their ObjectStore), the namespace that owns the claims, and CustomResourceDefinitions (deleting one deletes every object of its kind) are protected from deletion.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        if (![K8S.pvc, K8S.namespace, DOCKER.volume, K8S.cnpgCluster, K8S.objectStore, K8S.crd].includes(args.type as never)) return;
        if (!args.opts.protect) report(`${args.name} holds data but is not protected: set protect (and retainOnDelete) on it`);
    },
};

const pinnedImages: ResourceValidationPolicy = {
    name: "pinned-images",
    description: "Images are pinned by tag or digest, never `latest` or untagged.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        const images: string[] = args.type === DOCKER.image ? [args.props.name] : containersOf(podTemplate(args.type, args.props)?.spec).map((c) => c.image);
        for (const image of images) if (typeof image !== "string" || !isPinnedImage(image)) report(`image ${String(image)} is not pinned by tag or digest`);
    },
};

const containerResources: ResourceValidationPolicy = {
    name: "container-resources",
    description: "Every container, Jobs' included, has CPU and memory requests and limits.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        if (args.type === DOCKER.container) {
            if (!args.props.memory || !args.props.cpus) report(`container ${args.props.name} has no memory and CPU limit`);
            return;
        }
        for (const c of containersOf(podTemplate(args.type, args.props)?.spec)) {
            for (const kind of ["requests", "limits"] as const) {
                for (const what of ["cpu", "memory"]) if (!c.resources?.[kind]?.[what]) report(`container ${c.name} has no ${what} ${kind}`);
            }
        }
    },
};

const nonRoot: ResourceValidationPolicy = {
    name: "non-root",
    description: "Containers run as a non-root user, cannot escalate privileges, and have a read-only root filesystem.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        if (args.type === DOCKER.container) {
            const user = String(args.props.user ?? "");
            if (user === "" || /^(0|root)(:|$)/.test(user)) report(`container ${args.props.name} runs as root (user ${user || "unset"})`);
            if (args.props.readOnly !== true) report(`container ${args.props.name} has a writable root filesystem`);
            return;
        }
        const pod = podTemplate(args.type, args.props)?.spec;
        for (const c of containersOf(pod)) {
            const sc = c.securityContext ?? {};
            if (!(sc.runAsNonRoot ?? pod.securityContext?.runAsNonRoot)) report(`container ${c.name} may run as root (runAsNonRoot is not true)`);
            if (sc.allowPrivilegeEscalation !== false) report(`container ${c.name} may escalate privileges`);
            if (sc.readOnlyRootFilesystem !== true) report(`container ${c.name} has a writable root filesystem`);
        }
    },
};

const noPlainCredentials: ResourceValidationPolicy = {
    name: "no-plain-credentials",
    description: "No credential (PASSWORD, SECRET, TOKEN, keys, URLs or DSNs with a password, private keys, userlist verifiers, ACL passwords) in a plain Kubernetes env value, a ConfigMap or an annotation.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        if (args.type === K8S.configMap) {
            for (const [key, value] of Object.entries({ ...args.props.data, ...args.props.binaryData })) {
                const text = String(value);
                if (CREDENTIAL_NAME.test(key) || URL_WITH_PASSWORD.test(text) || CREDENTIAL_LINE.test(text)) report(`ConfigMap key ${key} holds a credential: move it to a Secret`);
                for (const [pattern, what] of SECRET_MATERIAL) if (pattern.test(text)) report(`ConfigMap key ${key} holds ${what}: move it to a Secret`);
            }
            return;
        }
        for (const [key, value] of Object.entries(args.props.metadata?.annotations ?? {})) {
            if (SECRET_MATERIAL.some(([p]) => p.test(String(value))) || URL_WITH_PASSWORD.test(String(value))) report(`annotation ${key} holds a credential`);
        }
        for (const c of containersOf(podTemplate(args.type, args.props)?.spec)) {
            for (const e of c.env ?? []) {
                if (e.value !== undefined && isCredentialEnv(e.name, String(e.value))) report(`container ${c.name} has ${e.name} as a plain env value: use valueFrom.secretKeyRef or a file`);
            }
        }
    },
};

/**
 * Every image that can read a credential from a file gets a file (PostgreSQL, Grafana,
 * postgres_exporter; the roles job has a client certificate). An image that reads its
 * credentials nowhere but the environment (the app, pgbouncer_exporter) must say so on
 * its container, where a reviewer sees it.
 */
const noEnvCredentialsOnDocker: ResourceValidationPolicy = {
    name: "no-credentials-in-docker-env",
    description: `Docker containers get credentials as files, not environment variables (visible in \`docker inspect\`), unless the container declares why its image needs them there (label ${ENV_CREDENTIALS_LABEL}).`,
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        if (args.type !== DOCKER.container) return;
        if (labelOf(args, ENV_CREDENTIALS_LABEL)?.trim()) return;
        for (const [name, value] of Object.entries(containerViews(args)[0]!.env)) {
            if (isCredentialEnv(name, value)) report(`container ${args.props.name} gets ${name} as an environment variable: give it a file, or declare why its image needs it there (label ${ENV_CREDENTIALS_LABEL})`);
        }
    },
};

const startupProbe: ResourceValidationPolicy = {
    name: "startup-probe",
    description: "In pods with data (volume claims: their own volumes or a StatefulSet's claim templates) every container with a liveness probe has a startup probe, so crash recovery or WAL replay is not killed by the liveness probe.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        const template = podTemplate(args.type, args.props);
        if (!template || args.type === K8S.job || args.type === K8S.cronJob) return;
        const stateful = (args.props.spec?.volumeClaimTemplates ?? []).length > 0 || (template.spec.volumes ?? []).some((v: any) => v.persistentVolumeClaim);
        if (!stateful) return;
        for (const c of template.spec.containers ?? []) if (c.livenessProbe && !c.startupProbe) report(`container ${c.name} of stateful ${args.name} has a livenessProbe but no startupProbe`);
    },
};

const namespaces = (resources: PolicyResource[]) => new Map(resources.filter((r) => r.type === K8S.namespace).map((r) => [r.props.metadata?.name as string, r]));

const podSecurity: StackValidationPolicy = {
    name: "pod-security",
    description: "Every pod meets the Pod Security Standard its namespace enforces (pod-security.kubernetes.io/enforce), as admission would judge it.",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
        const byName = namespaces(args.resources);
        for (const ns of byName.values()) {
            if (!isPodSecurityLevel(ns.props.metadata?.labels?.[POD_SECURITY_LABEL])) report(`namespace ${ns.props.metadata?.name} enforces no Pod Security level (${POD_SECURITY_LABEL})`, ns.urn);
        }
        for (const r of args.resources) {
            const template = podTemplate(r.type, r.props);
            if (!template) continue;
            const level = byName.get(namespaceOf(r) ?? "")?.props.metadata?.labels?.[POD_SECURITY_LABEL];
            if (!isPodSecurityLevel(level)) continue;
            for (const v of podSecurityViolations(template.spec, level)) report(`${r.name} in namespace ${namespaceOf(r)} (${level}): ${v}; admission would refuse its pods`, r.urn);
        }
    },
};

const matches = (selector: { matchLabels?: Record<string, string> } | undefined, labels: Record<string, string>) =>
    Object.entries(selector?.matchLabels ?? {}).every(([k, v]) => labels[k] === v);

const isDefaultDeny = (np: PolicyResource, direction: "Ingress" | "Egress") =>
    Object.keys(np.props.spec?.podSelector?.matchLabels ?? {}).length === 0 &&
    (np.props.spec?.policyTypes ?? ["Ingress"]).includes(direction) &&
    (np.props.spec?.[direction === "Ingress" ? "ingress" : "egress"] ?? []).length === 0;

const networkPolicies: StackValidationPolicy = {
    name: "network-policy",
    description:
        "Every namespace with pods denies ingress and egress by default; every pod is selected by an ingress NetworkPolicy of its namespace (host-network pods, which NetworkPolicies cannot select, excepted); no rule allows every peer on every port.",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
        const policies = args.resources.filter((r) => r.type === K8S.networkPolicy);
        for (const np of policies) for (const v of networkPolicyRules(np)) report(v, np.urn);
        const ingress = policies.filter((r) => (r.props.spec?.policyTypes ?? ["Ingress"]).includes("Ingress"));
        const withPods = new Set<string | undefined>();
        for (const r of args.resources) {
            const template = podTemplate(r.type, r.props);
            if (!template || template.spec.hostNetwork) continue;
            withPods.add(namespaceOf(r));
            const labels = template.metadata.labels ?? {};
            if (!ingress.some((np) => namespaceOf(np) === namespaceOf(r) && matches(np.props.spec?.podSelector, labels))) report(`no ingress NetworkPolicy selects the pods of ${r.name}`, r.urn);
        }
        for (const ns of withPods) {
            for (const direction of ["Ingress", "Egress"] as const) {
                if (!policies.some((np) => namespaceOf(np) === ns && isDefaultDeny(np, direction))) report(`namespace ${ns} has no default-deny ${direction.toLowerCase()} NetworkPolicy (podSelector {}, policyTypes ${direction}, no rules)`);
            }
        }
    },
};

const connectionCapacity: StackValidationPolicy = {
    name: "connection-capacity",
    description: "What will be deployed keeps PgBouncer inside PostgreSQL: (PgBouncer pods, surge included) x (default_pool_size + reserve_pool_size) <= max_connections - superuser_reserved_connections, read from the rendered pgbouncer.ini and postgresql.conf; the app's pools fit max_client_conn; on Docker PgBouncer's open-file limit covers max_client_conn plus its pool.",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
        const c = deployedCapacity(args.resources);
        if (!c) return;
        if (c.serverConnections > c.serverAvailable) {
            report(`PgBouncer may open ${c.pgbouncerPods} pod(s) x (pool ${c.pool} + reserve ${c.reserve}) = ${c.serverConnections} server connections; PostgreSQL accepts max_connections ${c.maxConnections} - ${c.maxConnections - c.serverAvailable} reserved = ${c.serverAvailable}`);
        }
        if (c.clientConnections > c.maxClientConn) report(`the app's pools may open ${c.clientConnections} client connections, more than max_client_conn ${c.maxClientConn}`);
        if (c.fileLimit !== undefined && c.fileLimit < c.filesNeeded) report(`PgBouncer's open-file limit ${c.fileLimit} is below max_client_conn ${c.maxClientConn} + pool ${c.pool + c.reserve} + ${PGBOUNCER_FD_OVERHEAD} of its own = ${c.filesNeeded}`);
    },
};

export const POLICIES: Policy[] = [
    protectData,
    dataVolumes,
    workloadSecrets,
    pinnedImages,
    containerResources,
    nonRoot,
    noPlainCredentials,
    noEnvCredentialsOnDocker,
    exposure,
    dockerIsolation,
    rbac,
    noAdminApis,
    grafanaAccess,
    startupProbe,
    podSecurity,
    networkPolicies,
    renderedConnections,
    backupPath,
    connectionCapacity,
    dataPathPolicy,
    wholeFiles,
    namespaceLevels,
    valkeyAcl,
    databaseRoles,
    auditTrail,
    cloudnativePgPolicy,
];

