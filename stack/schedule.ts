/** Cron schedules (UTC), read by cron-parser: validation, the values each field allows, and the longest gap between runs. */
import { CronExpressionParser } from "cron-parser";
import { dayMatchesBoth, type CronSets } from "../configs/schedule-loop";

const parse = (expr: string) => CronExpressionParser.parse(expr, { tz: "UTC" });

/**
 * What Kubernetes' CronJob parser (robfig/cron's standard one) refuses and cron-parser accepts:
 * `L`, `W`, `#` and `?`, and 7 for Sunday. A schedule must run on both platforms.
 */
function kubernetesRefuses(fields: string[]): boolean {
    if (fields.some((f) => /[?#]/.test(f))) return true;
    if (/L|W/.test(fields[2]!) || /(^|[^A-Z])L/i.test(fields[4]!.replace(/[A-Z]{3}/gi, ""))) return true;
    return fields[4]!.split(/[,/-]/).some((v) => /^\d+$/.test(v) && Number(v) > 6);
}

/** Five fields (minute hour day-of-month month day-of-week) that cron-parser and Kubernetes' CronJobs both accept. */
export function isCron(expr: string): boolean {
    const fields = expr.trim().split(/\s+/);
    if (fields.length !== 5 || kubernetesRefuses(fields)) return false;
    try {
        parse(expr);
        return true;
    } catch {
        return false;
    }
}

const FIELDS = [
    { name: "minute", min: 0, max: 59 },
    { name: "hour", min: 0, max: 23 },
    { name: "day-of-month", min: 1, max: 31 },
    { name: "month", min: 1, max: 12 },
    { name: "day-of-week", min: 0, max: 6 },
] as const;

/** What is wrong with a schedule that isCron refuses, naming the field: "day-of-week 8 is outside 0-6". */
export function cronProblem(expr: string): string {
    const fields = expr.trim().split(/\s+/);
    if (fields.length !== 5) return `it has ${fields.length} field${fields.length === 1 ? "" : "s"}; a schedule has five`;
    for (const [i, f] of FIELDS.entries()) {
        const value = fields[i]!;
        const special = /[?#]|L|W/.exec(value.replace(/[A-Z]{3}/gi, ""));
        if (special) return `${f.name} "${value}" uses ${special[0]}, which Kubernetes' CronJobs do not read`;
        const outside = value.split(/[,/-]/).find((v) => /^\d+$/.test(v) && (Number(v) < f.min || Number(v) > f.max));
        if (outside !== undefined) return `${f.name} ${outside} is outside ${f.min}-${f.max}`;
    }
    try {
        parse(expr);
    } catch (e) {
        return (e as Error).message;
    }
    return "";
}

/** The values each field allows, in order: minute, hour, day of month, month, day of week (0 = Sunday). */
export function cronFields(expr: string): CronSets {
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

/**
 * The longest time between two consecutive runs of any of the schedules, in seconds, over a year from `from` (366 days:
 * a monthly schedule's longest month, a leap day). Read from each schedule's fields day by day, deciding a day by the
 * backup loop's rule (dayMatchesBoth). A unit test holds it to cron-parser's own walk of the runs, which took about 25 ms
 * a schedule per render.
 */
export function longestGapSeconds(exprs: string[], from = new Date(Date.UTC(2026, 0, 1))): number {
    const schedules = exprs.map(cronFields);
    const end = from.getTime() + 366 * 86400_000;
    let previous: number | undefined;
    let gap = 0;
    for (let day = Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate()); day <= end; day += 86400_000) {
        const date = new Date(day);
        const times = new Set<number>();
        for (const f of schedules) {
            if (!f.month.includes(date.getUTCMonth() + 1)) continue;
            const dom = f.dayOfMonth.includes(date.getUTCDate());
            const dow = f.dayOfWeek.includes(date.getUTCDay());
            if (!(dayMatchesBoth(f) ? dom && dow : dom || dow)) continue;
            for (const h of f.hour) for (const m of f.minute) times.add(day + (h * 60 + m) * 60_000);
        }
        for (const t of [...times].sort((a, b) => a - b)) {
            if (t < from.getTime() || t > end) continue;
            if (previous !== undefined) gap = Math.max(gap, t - previous);
            previous = t;
        }
    }
    return gap / 1000;
}
