/**
 * `npm run diff` on changes that move or replace data, or touch secrets: blocked where data would be lost, with the
 * volumes kept and the restarts named; a secret's change shown without the secret.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { scratchRepo } from "./scratch-repo";

const { repo, git, diff, onBranch, setUnder, commitAll } = scratchRepo();

describe("npm run diff on scratch branches: data and secrets", () => {
    it("renaming the namespace is blocked: it would replace the protected namespace and move every claim", () => {
        const r = onBranch("rename", "Pulumi.prod.yaml", (t) => t.replace("namespace: flowviz", "namespace: flowviz-prod"), ["--stack", "prod"]);
        expect(r.code, r.err).toBe(3);
        expect(r.out).toContain("Namespace kubernetes-namespace (metadata.name flowviz -> flowviz-prod) is protected");
        expect(r.out).toContain("BLOCKED kubernetes:postgresql.cnpg.io/v1:Cluster::postgres: Cluster postgres (metadata.namespace flowviz -> flowviz-prod) is protected");
        expect(r.out).toContain("Moving a claim to another namespace gives an empty claim there");
    });

    it("a PostgreSQL major upgrade of the image is blocked and names pg_upgrade", () => {
        // the image that runs is the pgBackRest one built on postgres.image: an upgrade changes both
        const upgrade = (v: string) => (t: string) => setUnder("postgres", `image: postgres:${v}-trixie`)(t).replace(/postgres-pgbackrest:17\.12-trixie/, `postgres-pgbackrest:${v}-trixie`);
        const r = onBranch("major", "Pulumi.prod-sts.yaml", upgrade("18.1"), ["--stack", "prod-sts"]);
        expect(r.code, r.err).toBe(3);
        const blocked = r.out.split("\n").filter((l) => l.includes("BLOCKED"));
        expect(blocked).toEqual([expect.stringContaining("PostgreSQL 17 -> 18: a major version cannot start on the data directory of another; upgrade with pg_upgrade")]);
        const minor = onBranch("minor", "Pulumi.prod-sts.yaml", upgrade("17.13"), ["--stack", "prod-sts"]);
        expect(minor.code, minor.err).toBe(2);
        expect(minor.out).toContain("RESTART PostgreSQL restarts (its pod template changed");
    });

    it("a restore: refused unless the stack says replaceData; then a new volume, the old one kept, PostgreSQL restarting on it", () => {
        const restore = (confirm: boolean) => (t: string) =>
            t.replace("config:\n", `config:\n  flowviz:postgres:\n    restore:\n      id: recall-1\n      target: "2026-12-04T10:15:00Z"\n      replaceData: ${confirm}\n`);
        const refused = onBranch("restore-unconfirmed", "Pulumi.dev.yaml", restore(false), ["--stack", "dev"]);
        expect(refused.code).toBe(1);
        expect(refused.err).toContain("flowviz:postgres.restore.replaceData: is false");
        const r = onBranch("restore", "Pulumi.dev.yaml", restore(true), ["--stack", "dev"]);
        expect(r.code, r.err).toBe(2);
        expect(r.out).toMatch(/create\s+docker:index\/volume:Volume postgres-data-recall-1 \(protected\)/);
        expect(r.out).toContain("RESTORE postgres starts on a new volume postgres-data-recall-1");
        expect(r.out).not.toMatch(/delete docker:index\/volume:Volume postgres-data\b/);
        expect(r.out).toContain("RESTART");
    });

    it("a second restore keeps the first one's volume when the stack lists it in previous, and is blocked, saying so, when it does not", () => {
        const restoreAs = (id: string, previous: string[]) => (t: string) =>
            t.replace("config:\n", `config:\n  flowviz:postgres:\n    restore:\n      id: ${id}\n      target: "2026-12-04T10:15:00Z"\n      replaceData: true\n      previous: [${previous.join(", ")}]\n`);
        git("checkout", "-q", "-B", "restored-base", "main");
        writeFileSync(join(repo(), "Pulumi.dev.yaml"), restoreAs("recall-1", [])(readFileSync(join(repo(), "Pulumi.dev.yaml"), "utf8")));
        commitAll("first restore");
        const forgot = onBranch("restore-forgot", "Pulumi.dev.yaml", (t) => t.replace("id: recall-1", "id: recall-2"), ["--stack", "dev"], "restored-base");
        expect(forgot.code, forgot.err).toBe(3);
        expect(forgot.out).toMatch(/Volume postgres-data-recall-1 is protected: it holds data and would be deleted/);
        expect(forgot.out).toContain("keep it by listing recall-1 in postgres.restore.previous");
        const kept = onBranch("restore-again", "Pulumi.dev.yaml", (t) => t.replace("id: recall-1", "id: recall-2").replace("previous: []", "previous: [recall-1]"), ["--stack", "dev"], "restored-base");
        expect(kept.code, kept.err).toBe(2);
        expect(kept.out).toMatch(/create\s+docker:index\/volume:Volume postgres-data-recall-2 \(protected\)/);
        expect(kept.out).not.toMatch(/delete\s+docker:index\/volume:Volume postgres-data/);
        expect(kept.out).toContain("RESTORE postgres starts on a new volume postgres-data-recall-2");
        git("checkout", "-q", "main");
    });

    it("a dev host port: the container is replaced (Docker cannot change ports in place) and restarts", () => {
        const r = onBranch("port", "Pulumi.dev.yaml", (t) => t.replace("grafana: 3001", "grafana: 3002"), ["--stack", "dev"]);
        expect(r.code, r.err).toBe(2);
        expect(r.out).toContain("replace docker:index/container:Container grafana-container");
        expect(r.out).toContain("ports[0].external: 3001 -> 3002  [replaces: Docker cannot change ports of an existing container]");
        expect(r.out).toContain("RESTART grafana restarts (its container is replaced: ports changed)");
    });

    it("a changed secure: value reads 'changed (secret)' and no secret or stand-in appears, in every format", () => {
        git("checkout", "-q", "-B", "secret-base", "main");
        writeFileSync(join(repo(), "Pulumi.prod.yaml"), readFileSync(join(repo(), "Pulumi.prod.yaml"), "utf8") + "  flowviz:appDbPassword:\n    secure: v1:AAAAbaseciphertext\n");
        commitAll("secret base");
        const r = onBranch("secret-head", "Pulumi.prod.yaml", (t) => t.replace("v1:AAAAbaseciphertext", "v1:BBBBheadciphertext"), ["--stack", "prod", "--format", "markdown"], "secret-base");
        git("checkout", "-q", "secret-head");
        const json = diff(["--stack", "prod", "--format", "json", "--base", "secret-base"]);
        const text = diff(["--stack", "prod", "--base", "secret-base"]);
        git("checkout", "-q", "main");
        for (const out of [r, json, text]) {
            expect(out.code, out.err).toBe(2);
            expect(out.out).not.toMatch(/render-stand-in|ciphertext|SCRAM-SHA-256\$/);
        }
        expect(text.out).toContain("changed (secret)");
        expect(r.out).toContain("changed (secret)");
        expect(r.out.startsWith("<!-- flowviz-infra-diff -->")).toBe(true);
        expect(JSON.parse(json.out).exitCode).toBe(2);
    });
});
