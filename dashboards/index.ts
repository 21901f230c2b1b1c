import { createHash } from "node:crypto";
import { scopeSelectors } from "../configs/promql";
import { applicationDashboard } from "./application";
import { businessDashboard } from "./business";
import { infrastructureDashboard, type DatabaseEngine } from "./infrastructure";

/** Grafana's longest dashboard uid. */
const UID_MAX = 40;

/**
 * One stack's copy of a dashboard in a Grafana other stacks share (operator mode): every query
 * narrowed to the stack's label, its uid and title carrying the stack.
 */
function scoped(d: { uid?: string; title?: string; panels?: unknown[] }, scope: { name: string; value: string }): object {
    const uid = `${d.uid}-${scope.value}`;
    const short = uid.length <= UID_MAX ? uid : `${uid.slice(0, UID_MAX - 9)}-${createHash("sha256").update(uid).digest("hex").slice(0, 8)}`;
    const panel = (p: any): any => ({ ...p, ...(p.targets ? { targets: p.targets.map((t: any) => (t.expr ? { ...t, expr: scopeSelectors(t.expr, scope) } : t)) } : {}), ...(p.panels ? { panels: p.panels.map(panel) } : {}) });
    return { ...d, uid: short, title: `${d.title} (${scope.value})`, panels: (d.panels ?? []).map(panel) };
}

/**
 * Every dashboard as JSON text, by file name (deterministic: same code, same bytes); the database
 * panels follow postgres.engine; with a scope, each is the stack's own copy (operator mode).
 */
export function dashboardFiles(engine: DatabaseEngine = "statefulset", scope?: { name: string; value: string }): Record<string, string> {
    const built = { "application.json": applicationDashboard(), "business.json": businessDashboard(), "infrastructure.json": infrastructureDashboard(engine) };
    return Object.fromEntries(Object.entries(built).map(([file, d]) => [file, JSON.stringify(scope ? scoped(d.build(), scope) : d.build(), null, 2) + "\n"]));
}

export type { DatabaseEngine };
