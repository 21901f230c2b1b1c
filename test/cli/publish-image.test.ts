/**
 * scripts/publish-image.sh, the deploy's image step, with a stand-in `docker` that records what it
 * is asked and answers `imagetools inspect` from a registry held in a file.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../root";

const DIGEST_A = `sha256:${"a".repeat(64)}`;
const DIGEST_B = `sha256:${"b".repeat(64)}`;
const REF = "ghcr.io/flowviz/postgres-pgbackrest:17.12-trixie-2.55.1";

/** The script run against a registry holding `tags` (ref -> digest); what it printed and what docker was asked. */
function publish(image: string, tags: Record<string, string>) {
    const dir = mkdtempSync(join(tmpdir(), "flowviz-publish-"));
    writeFileSync(join(dir, "registry"), Object.entries(tags).map(([r, d]) => `${r} ${d}`).join("\n") + "\n");
    writeFileSync(
        join(dir, "docker"),
        [
            "#!/bin/sh",
            `echo "$*" >> ${dir}/calls`,
            'if [ "$1 $2 $3" = "buildx imagetools inspect" ]; then',
            `  d=$(awk -v r="$4" '$1 == r { print $2 }' ${dir}/registry); [ -n "$d" ] || exit 1; echo "$d"; exit 0`,
            "fi",
            `if [ "$1" = push ]; then echo "$2 ${DIGEST_B}" >> ${dir}/registry; fi`,
            "exit 0",
            "",
        ].join("\n"),
    );
    chmodSync(join(dir, "docker"), 0o755);
    const r = spawnSync("bash", [join(ROOT, "scripts/publish-image.sh"), "ghcr.io", "flowviz", image, "postgres:17.12-trixie"], {
        cwd: ROOT,
        encoding: "utf8",
        env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, REGISTRY_TOKEN: "token", GITHUB_ACTOR: "ci" },
    });
    const calls = existsSync(join(dir, "calls")) ? readFileSync(join(dir, "calls"), "utf8").trim().split("\n") : [];
    return { code: r.status, out: r.stdout.trim(), err: r.stderr, calls };
}

describe("the deploy's image step", () => {
    it("builds and pushes a tag the registry lacks, and prints it pinned by the pushed digest", () => {
        const r = publish(REF, {});
        expect(r.code, r.err).toBe(0);
        expect(r.out).toBe(`${REF}@${DIGEST_B}`);
        expect(r.calls).toContain("login ghcr.io -u ci --password-stdin");
        expect(r.calls.some((c) => c.startsWith("build images/postgres-pgbackrest --build-arg POSTGRES_IMAGE=postgres:17.12-trixie"))).toBe(true);
        expect(r.calls).toContain(`push ${REF}`);
    });

    it("deploys an existing tag only at the digest the stack pins, without building", () => {
        const r = publish(`${REF}@${DIGEST_A}`, { [REF]: DIGEST_A });
        expect(r.code, r.err).toBe(0);
        expect(r.out).toBe(`${REF}@${DIGEST_A}`);
        expect(r.calls.filter((c) => /^(build|push) /.test(c))).toEqual([]);
    });

    it("refuses a moved tag: the registry's digest is not the pinned one", () => {
        const r = publish(`${REF}@${DIGEST_A}`, { [REF]: DIGEST_B });
        expect(r.code).toBe(1);
        expect(r.err).toContain(`is ${DIGEST_B} in the registry, but the stack pins ${DIGEST_A}: the tag was moved`);
        expect(r.out).toBe("");
    });

    it("refuses an existing tag the stack does not pin, naming the pin to set", () => {
        const r = publish(REF, { [REF]: DIGEST_A });
        expect(r.code).toBe(1);
        expect(r.err).toContain(`pin it (postgres.backups.image ${REF}@${DIGEST_A})`);
    });

    it("logs in to no registry but the workflow's: an image elsewhere is refused before any login", () => {
        const r = publish("registry.example.com/flowviz/postgres-pgbackrest:17.12-1", {});
        expect(r.code).toBe(1);
        expect(r.err).toContain("is not under ghcr.io/flowviz/, the one registry this workflow logs in to");
        expect(r.calls).toEqual([]);
    });
});
