import { applicationDashboard } from "./application";
import { businessDashboard } from "./business";
import { infrastructureDashboard, type DatabaseEngine } from "./infrastructure";

/** Every dashboard as JSON text, by file name (deterministic: same code, same bytes); the database panels follow postgres.engine. */
export function dashboardFiles(engine: DatabaseEngine = "statefulset"): Record<string, string> {
    const built = { "application.json": applicationDashboard(), "business.json": businessDashboard(), "infrastructure.json": infrastructureDashboard(engine) };
    return Object.fromEntries(Object.entries(built).map(([file, d]) => [file, JSON.stringify(d.build(), null, 2) + "\n"]));
}

export type { DatabaseEngine };
