/**
 * The restore before PostgreSQL starts (postgres.restore): a step of its own (Kubernetes' init
 * container, a one-shot container on Docker) with no probe to kill it, that checks the target
 * against the repository before anything moves, resumes an interrupted restore, and leaves
 * recovery closed to clients until PostgreSQL has promoted.
 */
import { shellQuote, shellScript } from "./format";
import { WAL_GAP_ANNOTATION } from "./pgbackrest";

/** What a stack asks to restore (postgres.restore). */
export interface RestoreRequest {
    id: string;
    target: string;
    /** the repository restored from (2: the off-site one), read as it was at `asOf` when given */
    repository?: { number: 1 | 2; asOf?: string };
}

/** Which repository pgBackRest reads, and as of when. */
const repositoryChoice = (r: RestoreRequest["repository"]): string[] => (r ? [`--repo=${r.number}`, ...(r.asOf ? [`--repo-target-time=${pgbackrestTime(r.asOf)}`] : [])] : []);

/** A time as pgBackRest reads it to choose the backup (`2026-12-04 10:15:00+00`), from ISO 8601 with a zone. */
export function pgbackrestTime(iso: string): string {
    return iso.replace("T", " ").replace(/Z$/, "+00").replace(/([+-]\d{2}):?(\d{2})$/, (_, h: string, m: string) => (m === "00" ? h : `${h}${m}`));
}

/** A restore target's time as epoch seconds; undefined for `latest` and an LSN. */
export const timeTarget = (target: string): number | undefined => (target === "latest" || target.startsWith("lsn:") ? undefined : Date.parse(target.replace(" ", "T")) / 1000);

/**
 * What a restore brings back (`latest`, a time, or an LSN such as `lsn:0/3000060`), promoted at
 * the target; recovery runs without hot standby, so no client reads a row before promotion.
 */
export function restoreOptions(target: string): string[] {
    const closed = "--recovery-option=hot_standby=off";
    if (target === "latest") return ["--type=default", closed];
    if (target.startsWith("lsn:")) return ["--type=lsn", `--target=${target.slice(4)}`, "--target-action=promote", closed];
    return ["--type=time", `--target=${pgbackrestTime(target)}`, "--target-action=promote", closed];
}

/**
 * Perl over `pgbackrest info --output=json` (the image's perl and its JSON::PP); arguments: the
 * target's epoch ('' for `latest` and an LSN), the WAL gap annotation, the restore's id. Fails,
 * saying why and what can be chosen instead, when the repository holds no backup, when a time
 * lies before the end of its oldest backup or after now, and when it falls after a full backup
 * marked with a WAL gap and before the next full backup ended (recovery may stop short in the gap).
 */
const TARGET_GUARD = [
    "use JSON::PP; my ($t, $key, $id) = @ARGV; local $/; my $j = decode_json(<STDIN>);",
    'my $at = sub { my @g = gmtime shift; sprintf "%04d-%02d-%02d %02d:%02d:%02d UTC", $g[5] + 1900, $g[4] + 1, @g[3, 2, 1, 0] };',
    "my @b = sort { $a->{timestamp}{stop} <=> $b->{timestamp}{stop} } @{ $j->[0]{backup} // [] };",
    'unless (@b) { print STDERR "restore $id: refused, nothing changed: the repository holds no backup to restore from\\n"; exit 1 }',
    'my $archived = (($j->[0]{archive} // [])->[-1] // {})->{max} // "none";',
    'if ($t ne "" && ($t < $b[0]{timestamp}{stop} || $t > time)) {',
    '    printf STDERR "restore %s: refused, nothing changed: the target %s is outside what the repository can reach: from %s (the end of its oldest backup, %s) to now (%s; its newest backup %s ended %s, WAL archived up to segment %s). Set postgres.restore.target inside that range (runbook RestoreToPointInTime)\\n", $id, $at->($t), $at->($b[0]{timestamp}{stop}), $b[0]{label}, $at->(time), $b[-1]{label}, $at->($b[-1]{timestamp}{stop}), $archived;',
    "    exit 1;",
    "}",
    'exit 0 if $t eq "";',
    "for my $i (0 .. $#b) {",
    '    my $m = $b[$i]; my $gap = ($m->{annotation} // {})->{$key}; next unless $m->{type} eq "full" && defined $gap;',
    '    my ($n) = grep { $_->{type} eq "full" && $_->{timestamp}{start} > $m->{timestamp}{stop} } @b[$i + 1 .. $#b];',
    "    next unless $t > $m->{timestamp}{stop} && (!$n || $t < $n->{timestamp}{stop});",
    '    printf STDERR "restore %s: refused, nothing changed: the archive has a WAL gap (segments %s, dropped while the repository was unreachable) after full backup %s, which ended %s; ", $id, $gap, $m->{label}, $at->($m->{timestamp}{stop});',
    '    printf STDERR "%s; a target between them may lie in the gap, where recovery stops short of it. Choose a target before %s%s (runbook WalArchiveGap)\\n", $n ? "the next full backup, " . $n->{label} . ", ended " . $at->($n->{timestamp}{stop}) : "no full backup has completed since", $at->($m->{timestamp}{stop}), $n ? " or after " . $at->($n->{timestamp}{stop}) : "";',
    "    exit 1;",
    "}",
].join("\n");

/** Files the restore leaves beside the data directory, on the data volume: begun, and done. */
export const restoreMarkers = (dataMount: string, id: string) => ({ begun: `${dataMount}/restoring-${id}`, done: `${dataMount}/restored-${id}` });

/**
 * restore.sh: restores a volume once. Done before (its marker): nothing. Begun and stopped midway
 * (a killed pod, a lost node): resumes with `--delta`, which keeps what was restored and fixes the
 * rest. Otherwise only into an empty data directory, and only after the target passed the guard.
 */
export function restoreScript(i: { command: string; dataDir: string; dataMount: string; restore: RestoreRequest }): string {
    const { begun, done } = restoreMarkers(i.dataMount, i.restore.id);
    const id = i.restore.id;
    return shellScript([
        `if [ -e ${done} ]; then echo "restore ${id}: done on this volume earlier; PostgreSQL starts on it as it is" >&2; exit 0; fi`,
        'delta=""',
        `if [ -e ${begun} ]; then`,
        `    echo "restore ${id}: an earlier attempt stopped midway; resuming it (--delta keeps the files already restored)" >&2`,
        "    delta=--delta",
        `elif [ -n "$(ls -A ${i.dataDir} 2>/dev/null)" ]; then`,
        `    echo "restore ${id}: ${i.dataDir} already holds a cluster; refusing to restore over it" >&2`,
        "    exit 1",
        "fi",
        "# the target is checked against what the repository holds before anything is written",
        `info=$(${i.command} info ${repositoryChoice(i.restore.repository).map((o) => `${shellQuote(o)} `).join("")}--output=json)`,
        `printf '%s' "$info" | perl -e ${shellQuote(TARGET_GUARD)} ${shellQuote(String(timeTarget(i.restore.target) ?? ""))} ${WAL_GAP_ANNOTATION} ${id}`,
        `touch ${begun}`,
        `echo "restore ${id}: restoring to ${i.restore.target}" >&2`,
        `${i.command} restore $delta ${[...repositoryChoice(i.restore.repository), ...restoreOptions(i.restore.target)].map(shellQuote).join(" ")}`,
        `touch ${done}`,
        `echo "restore ${id}: restored; PostgreSQL recovers to the target with no client let in, then promotes" >&2`,
    ]);
}
