import { applicationDashboard } from "./application";
import { businessDashboard } from "./business";
import { infrastructureDashboard } from "./infrastructure";

/** Every dashboard as JSON text, by file name (deterministic: same code, same bytes). */
export function dashboardFiles(): Record<string, string> {
    const built = { "application.json": applicationDashboard(), "business.json": businessDashboard(), "infrastructure.json": infrastructureDashboard() };
    return Object.fromEntries(Object.entries(built).map(([file, d]) => [file, JSON.stringify(d.build(), null, 2) + "\n"]));
}
