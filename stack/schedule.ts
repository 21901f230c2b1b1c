/** Cron schedules (UTC), read by cron-parser: validation, the values each field allows, and the longest gap between runs. */
import { CronExpressionParser } from "cron-parser";

const parse = (expr: string) => CronExpressionParser.parse(expr, { tz: "UTC" });

/** Five fields (minute hour day-of-month month day-of-week) cron-parser accepts. */
export function isCron(expr: string): boolean {
    if (expr.trim().split(/\s+/).length !== 5) return false;
    try {
        parse(expr);
        return true;
    } catch {
        return false;
    }
}

/** The values each field allows, in order: minute, hour, day of month, month, day of week (0 = Sunday). */
export function cronFields(expr: string): { minute: number[]; hour: number[]; dayOfMonth: number[]; month: number[]; dayOfWeek: number[]; dayOfMonthAny: boolean; dayOfWeekAny: boolean } {
    const f = parse(expr).fields;
    const fields = expr.trim().split(/\s+/);
    return {
        minute: [...f.minute.values].map(Number),
        hour: [...f.hour.values].map(Number),
        dayOfMonth: [...f.dayOfMonth.values].filter((v) => v !== "L").map(Number),
        month: [...f.month.values].map(Number),
        dayOfWeek: [...new Set([...f.dayOfWeek.values].map((v) => Number(v) % 7))].sort((a, b) => a - b),
        dayOfMonthAny: fields[2] === "*",
        dayOfWeekAny: fields[4] === "*",
    };
}

/** The longest time between two consecutive runs of any of the schedules, in seconds, over a year from `from`. */
export function longestGapSeconds(exprs: string[], from = new Date(Date.UTC(2026, 0, 1))): number {
    const end = from.getTime() + 366 * 86400_000;
    const runs = new Set<number>();
    for (const expr of exprs) {
        const it = CronExpressionParser.parse(expr, { tz: "UTC", currentDate: from });
        for (let i = 0; i < 5000; i++) {
            const t = it.next().getTime();
            if (t > end) break;
            runs.add(t);
        }
    }
    const sorted = [...runs].sort((a, b) => a - b);
    let gap = 0;
    for (let i = 1; i < sorted.length; i++) gap = Math.max(gap, sorted[i]! - sorted[i - 1]!);
    return gap / 1000;
}
