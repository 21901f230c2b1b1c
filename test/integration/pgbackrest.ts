/** A render's pgBackRest parts, run outside containers: its paths moved onto test folders, the sidecar's own invocation. */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { chownToServer } from "../binaries";
import { PostgresServer, type Rendered } from "./servers";

/** Every container path of a render moved onto folders of the test: the data volume, the repository, both config folders. */
export function moveContainerPaths(r: Rendered, volume: string, repo: string): void {
    const map: [string, string][] = [
        ["/var/lib/postgresql/data", volume],
        ["/var/lib/pgbackrest", repo],
        ["/etc/postgresql", join(r.files, "postgres")],
        ["/etc/pgbackrest", join(r.files, "postgres-backup")],
    ];
    const walk = (dir: string): string[] => readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? walk(join(dir, f)) : [join(dir, f)]));
    for (const file of [...walk(join(r.files, "postgres")), ...walk(join(r.files, "postgres-backup"))]) {
        const text = readFileSync(file, "utf8");
        const moved = map.reduce((t, [from, to]) => t.split(from).join(to), text);
        if (moved !== text) writeFileSync(file, moved);
    }
}

/** The pgBackRest invocation the sidecar's scheduler uses (its `pgbr` function), as arguments. */
export function pgbackrestArgs(r: Rendered): string[] {
    const script = readFileSync(join(r.files, "postgres-backup", "scheduler.sh"), "utf8");
    const line = /^pgbr\(\) \{ pgbackrest (.*) "\$@"; \}$/m.exec(script);
    if (!line) throw new Error("scheduler.sh has no pgbr function");
    return line[1]!.split(" ");
}


/**
 * A new cluster on a data volume of the test, as the container runs it: the render's paths moved
 * there, PostgreSQL archiving through pgBackRest, its socket and pgBackRest's spool and locks on
 * the volume, the roles applied. `owner` is the folder handed to the server user.
 */
export function startArchivingServer(r: Rendered, volume: string, repo: string, owner: string): PostgresServer {
    moveContainerPaths(r, volume, repo);
    const pg = new PostgresServer(volume, r, 5432, { socketDir: `${volume}/run`, archive: true });
    pg.init();
    for (const d of ["run", "pgbackrest/spool", "pgbackrest/lock"]) mkdirSync(join(volume, d), { recursive: true });
    chownToServer(owner);
    pg.start();
    pg.applyRoles();
    return pg;
}
