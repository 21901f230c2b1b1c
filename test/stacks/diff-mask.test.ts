/** What the diff shows of a secret file: everything but its credentials. */
import { describe, expect, it } from "vitest";
import { compareFiles, maskCredentials } from "../../diff/compare";
import { renderedFiles } from "../../render/files";
import { runStack } from "../helpers";

const SECRETS = {
    alertmanagerSlackWebhookUrl: "https://hooks.slack.com/services/T0FLOWVIZ/B0FLOWVIZ/s3cretW3bhookT0ken42",
    alertmanagerSmtpPassword: "smtp-Pa55word-from-the-vault",
    valkeyPassword: "correct-horse-battery-staple-42",
    appDbPassword: "app-Passw0rd-chosen-by-hand",
};
const RECEIVERS = { slack: { channel: "#flowviz-alerts" }, email: { to: "oncall@example.com", from: "am@example.com", smarthost: "smtp.example.com:587", username: "am" } };

describe("secret files in the diff", () => {
    it("mask every credential the stack holds, given or generated, and keep the rest readable", async () => {
        const run = await runStack("Pulumi.dev.yaml", { stack: "mask", secrets: SECRETS, override: { monitoring: { receivers: RECEIVERS } } });
        const generated = run.secretOutputs.map((k) => run.outputs[k]).filter((v): v is string => typeof v === "string" && v.length >= 8);
        const credentials = [...Object.values(SECRETS), "s3cretW3bhookT0ken42", ...generated];
        const secretFiles = renderedFiles(run.resources).filter((f) => f.secret);
        expect(secretFiles.map((f) => `${f.service}/${f.path}`)).toEqual(expect.arrayContaining(["alertmanager/alertmanager.yml", "postgres-roles/roles.sql", "valkey/valkey.conf", "postgres/pgbackrest/conf.d/credentials.conf"]));
        for (const f of secretFiles) {
            const masked = maskCredentials(String(f.content));
            for (const c of credentials) expect(masked, `${f.service}/${f.path}`).not.toContain(c);
            expect(masked).not.toMatch(/SCRAM-SHA-256\$/);
        }
        const am = maskCredentials(String(secretFiles.find((f) => f.path === "alertmanager.yml")!.content));
        expect(am).toContain("#flowviz-alerts");
        expect(am).toContain("smtp.example.com:587");
        expect(maskCredentials(String(secretFiles.find((f) => f.path === "roles.sql")!.content))).toContain("GRANT pg_monitor TO");
    });

    it("show a receiver change in a secret alertmanager.yml, and only 'credentials' when only they changed", async () => {
        const files = async (channel: string, secrets = SECRETS) =>
            renderedFiles((await runStack("Pulumi.dev.yaml", { stack: "mask", secrets, override: { monitoring: { receivers: { ...RECEIVERS, slack: { channel } } } } })).resources);
        const base = await files("#flowviz-alerts");
        const channel = compareFiles(base, await files("#flowviz-oncall")).find((f) => f.file === "alertmanager/alertmanager.yml")!;
        expect(channel.secret).toBe(true);
        expect(channel.patch).toMatch(/-\s+- channel: "#flowviz-alerts"\n\+\s+- channel: "#flowviz-oncall"/);
        const rotated = compareFiles(base, await files("#flowviz-alerts", { ...SECRETS, alertmanagerSmtpPassword: "a-new-Passw0rd-2026" })).find((f) => f.file === "alertmanager/alertmanager.yml")!;
        expect(rotated.patch).toBe("");
    });
});
