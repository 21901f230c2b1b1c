/**
 * Kubernetes Pod Security Standards (kubernetes.io, "Pod Security Standards"), the checks
 * admission runs when a namespace enforces a level. Admission refuses the pod, not its
 * Deployment or DaemonSet: the workload exists and never becomes ready, so catch it here.
 */

export type PodSecurityLevel = "privileged" | "baseline" | "restricted";
export const POD_SECURITY_LABEL = "pod-security.kubernetes.io/enforce";

/** The parts of a PodSpec the standards look at. */
export interface PodSpecLike {
    hostNetwork?: boolean;
    hostPID?: boolean;
    hostIPC?: boolean;
    securityContext?: SecurityContextLike & { sysctls?: { name: string }[] };
    volumes?: Record<string, unknown>[];
    containers?: ContainerLike[];
    initContainers?: ContainerLike[];
    ephemeralContainers?: ContainerLike[];
}
interface SecurityContextLike {
    privileged?: boolean;
    allowPrivilegeEscalation?: boolean;
    runAsNonRoot?: boolean;
    runAsUser?: number;
    procMount?: string;
    seccompProfile?: { type?: string };
    appArmorProfile?: { type?: string };
    seLinuxOptions?: { type?: string; user?: string; role?: string };
    capabilities?: { add?: string[]; drop?: string[] };
}
export interface ContainerLike {
    name: string;
    securityContext?: SecurityContextLike;
    ports?: { hostPort?: number }[];
}

const BASELINE_CAPABILITIES = new Set(["AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"]);
const SAFE_SYSCTLS = new Set(["kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start", "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"]);
const SELINUX_TYPES = new Set(["", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"]);
const RESTRICTED_VOLUMES = new Set(["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"]);

const containersOf = (pod: PodSpecLike) => [...(pod.containers ?? []), ...(pod.initContainers ?? []), ...(pod.ephemeralContainers ?? [])];

function baseline(pod: PodSpecLike): string[] {
    const out: string[] = [];
    for (const ns of ["hostNetwork", "hostPID", "hostIPC"] as const) if (pod[ns]) out.push(`${ns} is true (host namespaces are forbidden)`);
    for (const v of pod.volumes ?? []) if ("hostPath" in v && v.hostPath) out.push(`volume ${String(v.name)} is a hostPath`);
    const podSc = pod.securityContext ?? {};
    if (podSc.seccompProfile?.type === "Unconfined") out.push("pod seccompProfile is Unconfined");
    if (podSc.appArmorProfile?.type === "Unconfined") out.push("pod appArmorProfile is Unconfined");
    if (!SELINUX_TYPES.has(podSc.seLinuxOptions?.type ?? "") || podSc.seLinuxOptions?.user || podSc.seLinuxOptions?.role) out.push("pod seLinuxOptions set beyond the allowed types");
    for (const s of podSc.sysctls ?? []) if (!SAFE_SYSCTLS.has(s.name)) out.push(`sysctl ${s.name} is not in the safe set`);
    for (const c of containersOf(pod)) {
        const sc = c.securityContext ?? {};
        if (sc.privileged) out.push(`container ${c.name} is privileged`);
        for (const cap of sc.capabilities?.add ?? []) if (!BASELINE_CAPABILITIES.has(cap)) out.push(`container ${c.name} adds capability ${cap}`);
        for (const p of c.ports ?? []) if (p.hostPort) out.push(`container ${c.name} uses hostPort ${p.hostPort}`);
        if (sc.seccompProfile?.type === "Unconfined") out.push(`container ${c.name} seccompProfile is Unconfined`);
        if (sc.appArmorProfile?.type === "Unconfined") out.push(`container ${c.name} appArmorProfile is Unconfined`);
        if (sc.procMount && sc.procMount !== "Default") out.push(`container ${c.name} procMount is ${sc.procMount}`);
        if (!SELINUX_TYPES.has(sc.seLinuxOptions?.type ?? "") || sc.seLinuxOptions?.user || sc.seLinuxOptions?.role) out.push(`container ${c.name} seLinuxOptions set beyond the allowed types`);
    }
    return out;
}

function restricted(pod: PodSpecLike): string[] {
    const out: string[] = [];
    for (const v of pod.volumes ?? []) {
        const kind = Object.keys(v).find((k) => k !== "name");
        if (kind && !RESTRICTED_VOLUMES.has(kind)) out.push(`volume ${String(v.name)} is of type ${kind}`);
    }
    const podSc = pod.securityContext ?? {};
    if (podSc.runAsUser === 0) out.push("pod runAsUser is 0");
    for (const c of containersOf(pod)) {
        const sc = c.securityContext ?? {};
        if (sc.allowPrivilegeEscalation !== false) out.push(`container ${c.name} does not set allowPrivilegeEscalation: false`);
        if (!(sc.runAsNonRoot ?? podSc.runAsNonRoot)) out.push(`container ${c.name} does not run with runAsNonRoot: true`);
        if (sc.runAsUser === 0) out.push(`container ${c.name} runAsUser is 0`);
        const seccomp = sc.seccompProfile?.type ?? podSc.seccompProfile?.type;
        if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost") out.push(`container ${c.name} has no RuntimeDefault or Localhost seccompProfile`);
        if (!(sc.capabilities?.drop ?? []).includes("ALL")) out.push(`container ${c.name} does not drop ALL capabilities`);
        for (const cap of sc.capabilities?.add ?? []) if (cap !== "NET_BIND_SERVICE") out.push(`container ${c.name} adds capability ${cap} (only NET_BIND_SERVICE is allowed)`);
    }
    return out;
}

/** What a pod does that the level forbids; empty when admission would accept it. */
export function podSecurityViolations(pod: PodSpecLike, level: PodSecurityLevel): string[] {
    if (level === "privileged") return [];
    const base = baseline(pod);
    return level === "baseline" ? base : [...base, ...restricted(pod)];
}

export function isPodSecurityLevel(v: unknown): v is PodSecurityLevel {
    return v === "privileged" || v === "baseline" || v === "restricted";
}
