/** The readers of policy/conf-files.ts on the lines their servers accept (PostgreSQL's reading is held to PostgreSQL itself in test/integration/conf-reading.test.ts). */
import { describe, expect, it } from "vitest";
import { commandLineOverrides, execLines, pgbouncerIncludes, postgresConf, valkeyIncludes } from "../../policy/conf-files";

describe("what the servers read besides the file", () => {
    it("names postgresql.conf's include directives in any case", () => {
        expect(postgresConf("ssl = on\nINCLUDE 'extra.conf'\ninclude_if_exists = 'maybe.conf'\ninclude_dir conf.d\n").includes).toEqual(["include extra.conf", "include_if_exists maybe.conf", "include_dir conf.d"]);
        expect(postgresConf("ssl = on\n# include 'commented.conf'\n").includes).toEqual([]);
    });

    it("names PgBouncer's %include and Valkey's include", () => {
        expect(pgbouncerIncludes("[pgbouncer]\n%include /etc/pgbouncer/extra.ini\n;%include commented\n")).toEqual(["%include /etc/pgbouncer/extra.ini"]);
        expect(valkeyIncludes("port 0\nInclude /data/extra.conf\n# include no\n")).toEqual(["Include /data/extra.conf"]);
    });

    it("finds the settings on PostgreSQL's command line, not a shell's or psql's -c", () => {
        expect(commandLineOverrides(["postgres", "-c", "config_file=/etc/postgresql/postgresql.conf", "-c", "hba_file=/etc/postgresql/pg_hba.conf"])).toEqual([]);
        expect(commandLineOverrides(["docker-entrypoint.sh", "postgres", "-c", "ssl=off", "-cfsync=off", "--log-connections=off"])).toEqual(["ssl=off", "fsync=off", "log-connections=off"]);
        expect(commandLineOverrides(["/bin/sh", "-c", "psql -c 'alter system set ssl = off'"])).toEqual([]);
    });

    it("splits a start script's exec lines as the shell does", () => {
        expect(execLines("set -eu\nmkdir -p /x\nexec 'docker-entrypoint.sh' 'postgres' '-c' 'config_file=/etc/a b.conf' -c ssl=off\n")).toEqual([["docker-entrypoint.sh", "postgres", "-c", "config_file=/etc/a b.conf", "-c", "ssl=off"]]);
    });
});
