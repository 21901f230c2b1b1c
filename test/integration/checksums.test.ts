/**
 * Data checksums on the real servers (PostgreSQL 17, pgBackRest 2.55, postgres_exporter's
 * extra query), from the rendered files: the cluster initialised as the rendered
 * POSTGRES_INITDB_ARGS say has checksums; one flipped byte in a table's page is refused by
 * PostgreSQL, counted by the exporter's query the PostgresChecksumFailure alert reads, and
 * reported by pgBackRest's page check during a backup.
 */
import { closeSync, mkdirSync, openSync, readSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exporterQueries } from "../../configs/exporter-queries";
import { runServerBinary } from "../binaries";
import { ROOT } from "../root";
import { pgbackrestArgs, startArchivingServer, stopBackupServer } from "./pgbackrest";
import { psql, render, type PostgresServer, type Rendered } from "./servers";

const BASE = "/tmp/flowviz-it-checksums";
const VOLUME = `${BASE}/volume`;
const REPO = `${BASE}/repo`;

let rendered: Rendered;
let pg: PostgresServer;
const superuser = (sql: string) => psql({ ...pg.superuser(), db: "flowviz", sql });
const pgbackrest = (args: string[]) => runServerBinary("pgbackrest", [...pgbackrestArgs(rendered), ...args], { asServerUser: true, timeout: 300_000 });
const checksumQuery = () => (parse(exporterQueries()) as Record<string, { query: string }>).pg_data_checksums!.query;

beforeAll(async () => {
    rmSync(BASE, { recursive: true, force: true });
    mkdirSync(REPO, { recursive: true });
    rendered = await render(join(ROOT, "test/integration/Pulumi.local.yaml"), `${BASE}/render`);
    pg = await startArchivingServer(rendered, VOLUME, REPO, BASE);
    pgbackrest(["stanza-create"]);
}, 300_000);

afterAll(() => {
    stopBackupServer();
    pg?.stop("immediate");
});

describe("data checksums (statefulset engine)", () => {
    it("initialises the cluster with checksums, as the rendered POSTGRES_INITDB_ARGS say", () => {
        expect(pg.initdbArgs()).toContain("--data-checksums");
        expect(superuser("show data_checksums")).toBe("on");
        expect(superuser(checksumQuery())).toBe("1|0");
    });

    it("a flipped byte in a table's page: PostgreSQL refuses the page, the exporter's query counts it, pgBackRest's page check reports it", () => {
        superuser("create table flowviz_ops_checksum_probe (id int primary key, lot text); insert into flowviz_ops_checksum_probe select g, 'lot-' || g from generate_series(1, 2000) g; checkpoint;");
        const file = join(pg.data, superuser("select pg_relation_filepath('flowviz_ops_checksum_probe')"));
        pg.stop("fast");
        // one byte in the middle of the first page's tuples, as a failing disk would leave it
        const fd = openSync(file, "r+");
        const byte = Buffer.alloc(1);
        readSync(fd, byte, 0, 1, 4000);
        writeSync(fd, Buffer.from([byte[0]! ^ 0xff]), 0, 1, 4000);
        closeSync(fd);
        pg.start();

        expect(() => superuser("select count(*) from flowviz_ops_checksum_probe")).toThrow(/invalid page in block 0|checksum verification failed/);
        const [enabled, failures] = superuser(checksumQuery()).split("|").map(Number);
        expect(enabled).toBe(1);
        expect(failures).toBeGreaterThanOrEqual(1);

        const backup = pgbackrest(["backup", "--type=full", "--log-level-console=warn"]);
        expect(backup).toMatch(/invalid page checksum found in file .*base\/\d+\/\d+ at page 0/);
        const info = JSON.parse(pgbackrest(["info", "--output=json"]));
        const last = info[0].backup.at(-1);
        // pgBackRest marks the backup as holding errors (the exporter's pgbackrest_backup_error_status)
        expect(last.error).toBe(true);
    });
});
