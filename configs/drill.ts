/**
 * The restore drill (postgres-drill): on its schedule, the newest backup of each repository is
 * restored into scratch storage, brought to consistency (never archiving: a drill must not fork the
 * repository's timelines), promoted and checked with pg_amcheck and the listed tables' row counts;
 * what it measured is pushed to the Pushgateway, then the scratch is emptied. A drill that cannot
 * restore, recover or check pushes a failure.
 */
import { shellQuote, shellScript } from "./format";

/** The metrics a drill pushes, each with the label `repo` (1: the stack's repository, 2: off-site). */
export const DRILL_METRICS = {
    success: "flowviz_restore_drill_success",
    lastRun: "flowviz_restore_drill_last_run_timestamp_seconds",
    lastSuccess: "flowviz_restore_drill_last_success_timestamp_seconds",
    restoreSeconds: "flowviz_restore_drill_restore_seconds",
    recoverySeconds: "flowviz_restore_drill_recovery_seconds",
    backupAge: "flowviz_restore_drill_backup_age_seconds",
} as const;

/** The Pushgateway's job name for drills: `/metrics/job/<this>/repo/<n>`. */
export const DRILL_JOB = "restore-drill";

/**
 * Perl (core HTTP::Tiny) that POSTs the metrics on stdin to the Pushgateway: a POST replaces only
 * the metrics it names in the group, so a failed drill keeps the last success's timestamp.
 */
const PUSH = [
    "use HTTP::Tiny; my ($url) = @ARGV; local $/; my $body = <STDIN>;",
    "my $r = HTTP::Tiny->new(timeout => 30)->post($url, { content => $body, headers => { 'Content-Type' => 'text/plain; version=0.0.4' } });",
    'die "push to $url: $r->{status} $r->{reason}\\n" unless $r->{success};',
].join("\n");

/** The newest backup of `info --output=json`: its label and the epoch it stopped at. */
const NEWEST = 'use JSON::PP; local $/; my $j = decode_json(<STDIN>); my @b = sort { $a->{timestamp}{stop} <=> $b->{timestamp}{stop} } @{ $j->[0]{backup} // [] }; print @b ? "$b[-1]{label} $b[-1]{timestamp}{stop}\\n" : "";';

export interface DrillInput {
    /** pgBackRest with the drill's configuration (pg1-path: the scratch data directory) */
    command: string;
    /** the scratch folder: the data directory and the socket go in it */
    scratch: string;
    repositories: (1 | 2)[];
    /** the application's database, and tables in it whose rows must be readable (schema-qualified) */
    database: string;
    tables: string[];
    /** the Pushgateway's base URL */
    pushgateway: string;
    /** a pg_hba.conf that lets only the socket in (the scratch folder is the drill's alone) */
    hbaFile: string;
}

/** drill.sh: one drill of each repository; exits 1 when any failed (after pushing every result). */
export function drillScript(i: DrillInput): string {
    const data = `${i.scratch}/pgdata`;
    const run = `${i.scratch}/run`;
    const psql = `psql -X -q -At -v ON_ERROR_STOP=1 -h ${run} -U postgres`;
    return shellScript(
        [
            `pgbr() { ${i.command} "$@"; }`,
            "# GNU date (the image's coreutils): milliseconds, and seconds with three decimals",
            "now_ms() { echo $(( $(date +%s%N) / 1000000 )); }",
            "seconds() { printf '%d.%03d' $(( $1 / 1000 )) $(( $1 % 1000 )); }",
            `push() { perl -e ${shellQuote(PUSH)} "${i.pushgateway}/metrics/job/${DRILL_JOB}/repo/$1"; }`,
            `stop_scratch() { [ -f ${data}/postmaster.pid ] && pg_ctl -D ${data} -m immediate -w stop >/dev/null 2>&1; rm -rf ${data} ${run}; }`,
            "trap stop_scratch EXIT",
            "failed=0",
            `for repo in ${i.repositories.join(" ")}; do`,
            "    started=$(now_ms)",
            "    ok=0 restore_s=0 recovery_s=0 age=0",
            "    stop_scratch; mkdir -p " + run,
            "    set -- $(pgbr info --repo=\"$repo\" --output=json | perl -e " + shellQuote(NEWEST) + ")",
            '    if [ $# -eq 2 ]; then',
            '        label=$1 age=$(( started / 1000 - $2 ))',
            '        echo "drill repo$repo: restoring $label (ended ${age}s ago) into the scratch volume" >&2',
            // immediate: consistent at the backup's end; archive off: the promoted copy never writes into the repository
            `        if pgbr restore --repo="$repo" --set="$label" --type=immediate --target-action=promote --archive-mode=off; then`,
            "            t=$(now_ms); restore_s=$(seconds $(( t - started )))",
            `            if pg_ctl -D ${data} -w -t 86400 -l ${i.scratch}/postgres.log -o "-c listen_addresses='' -c unix_socket_directories=${run} -c port=5432 -c hba_file=${i.hbaFile} -c archive_mode=off" start >/dev/null \\`,
            `                && until [ "$(${psql} -d postgres -c 'select not pg_is_in_recovery()' 2>/dev/null)" = t ]; do sleep 1; done; then`,
            "                recovery_s=$(seconds $(( $(now_ms) - t )))",
            `                if pg_amcheck -h ${run} -U postgres --all --install-missing --no-strict-names >&2 \\`,
            ...i.tables.map((table) => `                    && [ "$(${psql} -d ${i.database} -c ${shellQuote(`select count(*) from ${table}`)} 2>/dev/null || echo x)" != x ] \\`),
            "                    ; then ok=1; fi",
            "            fi",
            "        fi",
            "    else",
            '        echo "drill repo$repo: the repository holds no backup" >&2',
            "    fi",
            `    [ -f ${i.scratch}/postgres.log ] && tail -n 20 ${i.scratch}/postgres.log >&2`,
            '    now=$(date +%s)',
            "    {",
            `        echo "${DRILL_METRICS.success} $ok"`,
            `        echo "${DRILL_METRICS.lastRun} $now"`,
            `        [ $ok -eq 1 ] && echo "${DRILL_METRICS.lastSuccess} $now" && echo "${DRILL_METRICS.restoreSeconds} $restore_s" && echo "${DRILL_METRICS.recoverySeconds} $recovery_s" && echo "${DRILL_METRICS.backupAge} $age"`,
            '    } | push "$repo" || failed=1',
            '    if [ $ok -eq 1 ]; then echo "drill repo$repo: restored in ${restore_s}s, consistent and checked in ${recovery_s}s more" >&2; else echo "drill repo$repo: FAILED" >&2; failed=1; fi',
            "    stop_scratch",
            "done",
            'exit "$failed"',
        ],
        { keepGoing: true },
    );
}
