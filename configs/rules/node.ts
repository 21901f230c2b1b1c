/** What the nodes (node-exporter) alert on. */
import type { AlertRule } from "./model";

export function nodeRules(): AlertRule[] {
    return [
        {
            alert: "NodeFilesystemAlmostFull",
            expr: `node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs"} / node_filesystem_size_bytes < 0.10 and node_filesystem_readonly == 0`,
            for: "15m",
            severity: "warning",
            component: "node",
            summary: "Filesystem has under 10% free",
            description: "{{ $labels.mountpoint }} on {{ $labels.instance }} has {{ $value | humanizePercentage }} free.",
            runbook: ["Find what grew: `du -xh --max-depth=2 <mountpoint> | sort -h | tail`.", "Prometheus data: lower monitoring.retentionSize; PostgreSQL data: grow the volume."],
        },
        {
            alert: "NodeFilesystemFull",
            expr: `node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs"} / node_filesystem_size_bytes < 0.05 and node_filesystem_readonly == 0`,
            for: "5m",
            severity: "critical",
            component: "node",
            summary: "Filesystem has under 5% free",
            description: "{{ $labels.mountpoint }} on {{ $labels.instance }} has {{ $value | humanizePercentage }} free.",
            runbook: ["Free space now (old logs, dangling images: `docker image prune`).", "PostgreSQL stops accepting writes when its volume is full: grow it first."],
        },
        {
            alert: "NodeHighCpu",
            expr: `1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m])) > 0.9`,
            for: "15m",
            severity: "warning",
            component: "node",
            summary: "Node CPU above 90%",
            description: "{{ $labels.instance }} is {{ $value | humanizePercentage }} busy.",
            runbook: ["`top` on the node: which process?", "PostgreSQL: look for expensive queries in pg_stat_statements."],
        },
        {
            alert: "NodeMemoryLow",
            expr: "node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes < 0.10",
            for: "10m",
            severity: "warning",
            component: "node",
            summary: "Node has under 10% memory available",
            description: "{{ $labels.instance }} has {{ $value | humanizePercentage }} of its memory available.",
            runbook: ["`ps aux --sort=-rss | head` on the node.", "Check the memory limits of the services (resources in the stack config)."],
        },
    ];
}
