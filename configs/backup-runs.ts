/**
 * The backup runs, outside PostgreSQL's pod: one script whose argument says which run
 * (`first`, `full`, `diff`, `verify`, `wal-check`), reaching PostgreSQL through pgBackRest's
 * TLS server and the repository directly. Kubernetes runs each as a CronJob; Docker runs the
 * schedule loop (schedule-loop.ts) in a container of its own.
 */
import { GENERATED, shellScript } from "./format";
import { STANZA, WAL_GAP_ANNOTATION } from "./pgbackrest";

/** The annotation of the full backup taken right after a restore: the restore's id. */
export const RESTORE_ANNOTATION = "flowviz-restore";

/** How long the first run waits for PostgreSQL to become writable: a day covers a restore of a large database. */
const FIRST_WAIT_SECONDS = 86400;

/** The runs and what each does. */
export const BACKUP_RUN_KINDS = ["first", "full", "diff", "verify", "wal-check", "offsite"] as const;
export type BackupRunKind = (typeof BACKUP_RUN_KINDS)[number];


/**
 * wal-gaps.awk: reads WAL segment names (24 hex digits, sorted, one per line) and prints every
 * run of missing ones between two held segments of a timeline, `<first missing>-<last missing>`,
 * ending at or after segment `start` (16 MiB segments: 256 per log file).
 */
export const WAL_GAPS_AWK = [
    `# ${GENERATED}`,
    'function hex(x,  n, i) { n = 0; for (i = 1; i <= length(x); i++) n = n * 16 + index("0123456789ABCDEF", substr(x, i, 1)) - 1; return n }',
    "function seg(s) { return hex(substr(s, 9, 8)) * 256 + hex(substr(s, 17, 8)) }",
    'function name(tl, n) { return sprintf("%s%08X%08X", tl, int(n / 256), n % 256) }',
    "BEGIN { from = seg(start) }",
    '{ tl = substr($0, 1, 8); n = seg($0); if (tl == last && n > prev + 1 && n - 1 >= from) print name(tl, prev + 1) "-" name(tl, n - 1); last = tl; prev = n }',
    "",
].join("\n");

/**
 * backup.sh: `first` waits until PostgreSQL is writable, creates the stanza, checks the archive
 * and takes a full backup if the repository has none (after a restore, `first <id>`: one at
 * once); `full` and `diff` take that backup; `verify` reads every file of the
 * repository back; `wal-check` looks for WAL missing from the archive after the newest full
 * backup began (pgBackRest drops queued WAL past archive-push-queue-max and still reports it
 * archived; `verify` does not see a gap): seen twice a minute apart, it marks that full backup
 * with the gap (the alert reads the mark) and takes a new full backup, which carries none.
 */
export function backupRunScript(i: { command: string; awkFile: string; offsite: boolean }): string {
    return shellScript([
        `pgbr() { ${i.command} "$@"; }`,
        "# the newest full backup: its label and its first WAL segment",
        "newest_full() { pgbr info --repo=1 --output=text | awk '/^ *full backup:/ { label = $3; f = 1; next } / backup:/ { f = 0 } f && /wal start\\/stop:/ { start = $3; newest = label } END { if (newest != \"\") print newest, start }'; }",
        "# WAL segments missing from the archive at or after segment $1 (the segment names in the listing, each once, in order)",
        `wal_gaps() { pgbr repo-ls --repo=1 --recurse archive/${STANZA} | grep -o '[0-9A-F]\\{24\\}-[0-9a-f]\\{40\\}' | cut -c1-24 | sort -u | awk -v start="$1" -f ${i.awkFile}; }`,
        'case "${1:-}" in',
        "first)",
        "    # PostgreSQL may be starting, or recovering a restore with no client let in: wait until it is writable",
        "    waited=0",
        "    until pgbr stanza-create && pgbr check; do",
        `        [ "$waited" -lt "\${FIRST_WAIT_SECONDS:-${FIRST_WAIT_SECONDS}}" ] || { echo "first: PostgreSQL is still not writable after \${waited}s" >&2; exit 1; }`,
        '        echo "first: PostgreSQL is not writable yet (starting, or recovering a restore); again in 30 s" >&2',
        '        sleep 30; waited=$((waited + 30))',
        "    done",
        "    # after a restore (its id): a full backup of the new timeline at once; else one only if the repository has none",
        `    if [ -n "\${2:-}" ]; then pgbr backup --repo=1 --type=full --annotation=${RESTORE_ANNOTATION}="$2"; else newest_full | grep -q . || pgbr backup --repo=1 --type=full; fi`,
        ...(i.offsite ? ["    # the off-site repository's first full backup, when it has none", '    pgbr info --repo=2 --output=text | grep -q "full backup:" || pgbr backup --repo=2 --type=full'] : []),
        "    ;;",
        "full | diff)",
        "    pgbr stanza-create",
        '    pgbr backup --repo=1 --type="$1"',
        "    ;;",
        ...(i.offsite
            ? ["offsite)", "    # a full backup of its own into the off-site repository (its retention is by time)", "    pgbr stanza-create", "    pgbr backup --repo=2 --type=full", "    ;;"]
            : []),
        "verify)",
        ...(i.offsite ? ["    pgbr verify --repo=1", "    pgbr verify --repo=2"] : ["    pgbr verify"]),
        "    ;;",
        "wal-check)",
        '    set -- $(newest_full)',
        '    [ $# -eq 2 ] || { echo "wal-check: no full backup yet" >&2; exit 0; }',
        '    label=$1 start=$2',
        '    gaps=$(wal_gaps "$start")',
        '    [ -z "$gaps" ] && exit 0',
        "    # a segment still in flight (process-max 2) looks missing for a moment: a gap must stay",
        '    sleep "${WAL_CHECK_CONFIRM_SECONDS:-60}"',
        '    [ "$(wal_gaps "$start")" = "$gaps" ] || exit 0',
        `    first=$(echo "$gaps" | head -n 1)`,
        `    echo "wal-check: WAL missing from the archive after full backup $label: $(echo $gaps); marking it and taking a full backup" >&2`,
        `    pgbr annotate --set="$label" --annotation=${WAL_GAP_ANNOTATION}="$first"`,
        "    pgbr backup --repo=1 --type=full",
        "    ;;",
        "*)",
        `    echo "usage: $0 ${BACKUP_RUN_KINDS.filter((k) => i.offsite || k !== "offsite").join("|")}" >&2`,
        "    exit 2",
        "    ;;",
        "esac",
    ]);
}
