/**
 * A cron loop in POSIX sh, for a platform without CronJobs (Docker): every minute (UTC) it runs
 * the runs whose schedule matches, one after another, each retried with a doubling pause, and
 * runs the `atStart` ones once when it starts. A run missed while the loop was down is not made
 * up (Kubernetes' CronJobs do that, within their deadline).
 */
import { shellQuote, shellScript } from "./format";

/** One cron schedule as the sets of values its fields allow (stack/schedule.ts reads them). */
export interface CronSets {
    minute: number[];
    hour: number[];
    dayOfMonth: number[];
    month: number[];
    dayOfWeek: number[];
    dayOfMonthAny: boolean;
    dayOfWeekAny: boolean;
}

export interface LoopRun {
    name: string;
    /** unset: only at start */
    cron?: CronSets;
    /** the run's command and arguments */
    command: string[];
    atStart?: boolean;
}

/** Cron's rule for the two day fields: when either is `*` a day must match both; when both are restricted, either one runs it. */
export const dayMatchesBoth = (c: CronSets) => c.dayOfMonthAny || c.dayOfWeekAny;

/** A shell test that is true when `$m $h $dom $mon $dow` (set by the loop) match a schedule (dayMatchesBoth). */
function matches(c: CronSets): string {
    const inSet = (variable: string, values: number[]) => `case " ${values.join(" ")} " in *" $${variable} "*) true ;; *) false ;; esac`;
    const day = dayMatchesBoth(c) ? `{ ${inSet("dom", c.dayOfMonth)}; } && { ${inSet("dow", c.dayOfWeek)}; }` : `{ { ${inSet("dom", c.dayOfMonth)}; } || { ${inSet("dow", c.dayOfWeek)}; }; }`;
    return `{ ${inSet("m", c.minute)}; } && { ${inSet("h", c.hour)}; } && { ${inSet("mon", c.month)}; } && ${day}`;
}

const line = (r: LoopRun) => r.command.map(shellQuote).join(" ");

export function scheduleLoopScript(runs: LoopRun[], retries: number): string {
    return shellScript(
        [
            `# run NAME COMMAND...: up to ${retries + 1} attempts, 1, 2, 4... minutes apart; a failure never stops the loop`,
            "run() {",
            '    name=$1; shift; pause=60; attempt=0',
            '    until "$@"; do',
            "        attempt=$((attempt + 1))",
            `        if [ $attempt -gt ${retries} ]; then echo "$name: failed $attempt times; next at its schedule" >&2; return 0; fi`,
            '        echo "$name: failed; again in $pause s" >&2; sleep $pause; pause=$((pause * 2))',
            "    done",
            "}",
            ...runs.filter((r) => r.atStart).map((r) => `run ${r.name} ${line(r)}`),
            "last=''",
            "while :; do",
            "    now=$(date -u '+%M %H %d %m %w')",
            '    if [ "$now" != "$last" ]; then',
            "        last=$now",
            "        set -- $now",
            // leading zeros off: cron values are plain numbers
            "        m=${1#0} h=${2#0} dom=${3#0} mon=${4#0} dow=$5",
            ...runs.flatMap((r) => (r.cron ? [`        if ${matches(r.cron)}; then run ${r.name} ${line(r)}; fi`] : [])),
            "    fi",
            "    sleep 10",
            "done",
        ],
        { keepGoing: true },
    );
}
