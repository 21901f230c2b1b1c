/**
 * Real servers from Debian 13's packages (test/binaries.ts), on loopback, fed exactly the
 * files the offline render wrote. A missing binary fails the test (never a skip).
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, cpSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../root";
import { parse, stringify } from "yaml";
import { readStackFile, standIn } from "../../render/stackfile";
import { writeRender } from "../../render/write";
import { mandatoryOf, violationLine } from "../../render/violations";
import { realCertificates } from "./certs";
import { SECRET_FILE, TLS_FILES } from "../../stack/fixed";
import { CONFIG_DIR_LABEL } from "../../components/service";
import { chownToServer, runServerBinary, serverCommand, type Binary } from "../binaries";
import { Client } from "pg";

/**
 * What `npm run render` writes for a stack file, into `out`, made in this process (render/write.ts: about 1 CPU-second a
 * render instead of 3.5 for a process of its own); under vitest the program's modules are loaded afresh for each render
 * (a bench renders once). Within one run of the suites (scripts/integration.ts sets FLOWVIZ_RENDER_CACHE), a stack already
 * rendered from the same bytes, stack name and program is copied instead of rendered again (nine suites start from the
 * local stack).
 */
async function renderOnce(stackFile: string, out: string, stack: string): Promise<void> {
    const run = async (to: string) => {
        if (process.env.VITEST) (await import("vitest")).vi.resetModules();
        const mandatory = mandatoryOf((await writeRender({ stack, stackFile: readStackFile(stackFile), out: to, showSecrets: true })).violations);
        if (mandatory.length > 0) throw new Error(`${stackFile}: the policy pack refuses it: ${mandatory.map(violationLine).join("; ")}`);
    };
    const cache = process.env.FLOWVIZ_RENDER_CACHE;
    if (!cache) return run(out);
    const key = createHash("sha256").update(programFingerprint()).update(stack).update("\0").update(readFileSync(stackFile)).digest("hex").slice(0, 20);
    const cached = join(cache, key);
    if (!existsSync(cached)) {
        const fresh = `${cached}.${process.pid}`;
        await run(fresh);
        // another lane may have rendered the same stack meanwhile: the first copy stays
        try {
            renameSync(fresh, cached);
        } catch {
            rmSync(fresh, { recursive: true, force: true });
        }
    }
    cpSync(cached, out, { recursive: true });
}

let fingerprint: string | undefined;
/** What a render reads besides its stack file: every file of the working tree outside the tests, docs and benches. */
function programFingerprint(): string {
    if (fingerprint) return fingerprint;
    const files = execFileSync("git", ["ls-files", "-co", "--exclude-standard", "--", ".", ":!test", ":!docs", ":!bench"], { cwd: ROOT, encoding: "utf8" }).split("\n").filter(Boolean);
    const hash = createHash("sha256");
    for (const f of files) if (existsSync(join(ROOT, f))) hash.update(f).update("\0").update(readFileSync(join(ROOT, f)));
    return (fingerprint = hash.digest("hex"));
}

/** The rendered plan and files of a stack (with secrets: the test needs the credentials). */
export interface Rendered {
    dir: string;
    files: string;
    /** the CA that signed the (real, test-made) server certificates */
    caFile: string;
    plan: { outputs: Record<string, any>; resources: { type: string; name: string; inputs: Record<string, any> }[] };
    /** the Docker container the plan declares for a service */
    container(service: string): Record<string, any>;
    /** an env value of a container, by service */
    env(service: string, key: string): string;
    /** where a service's container mounts its rendered files (its config-dir label) */
    configDir(service: string): string;
}

export async function render(stackFile: string, out: string, stack = "local"): Promise<Rendered> {
    rmSync(out, { recursive: true, force: true });
    await renderOnce(stackFile, out, stack);
    const plan = JSON.parse(readFileSync(join(out, "plan.json"), "utf8"));
    const caFile = realCertificates(plan, join(out, "files"), join(out, "certs"));
    chownToServer(out);
    const rendered: Rendered = {
        dir: out,
        files: join(out, "files"),
        caFile,
        plan,
        container(service) {
            const c = plan.resources.find((r: any) => r.name === `${service}-container`);
            if (!c) throw new Error(`the plan has no container for ${service}`);
            return c.inputs;
        },
        configDir(service) {
            const label = (this.container(service).labels as { label: string; value: string }[]).find((l) => l.label === CONFIG_DIR_LABEL);
            if (!label) throw new Error(`${service} mounts no rendered files`);
            return label.value;
        },
        env(service, key) {
            const e = (this.container(service).envs as string[] | undefined)?.find((x) => x.startsWith(`${key}=`));
            if (!e) throw new Error(`${service} has no ${key} in the plan`);
            return e.slice(key.length + 1);
        },
    };
    return rendered;
}

/**
 * The local stack rendered with some credentials set as `secure:` values (as
 * `pulumi config set --secret` would), so the test knows them: it returns the render and
 * each credential's value (the render's stand-in for that ciphertext).
 */
export async function renderWithSecrets(
    base: string,
    name: string,
    keys: readonly string[],
    opts: { config?: Record<string, unknown>; secretsOf?: string; stackFile?: string; stack?: string } = {},
): Promise<{ rendered: Rendered; secret(key: string): string }> {
    const stack = parse(readFileSync(join(ROOT, opts.stackFile ?? LOCAL_STACK), "utf8"));
    // the same secrets as another render of the test (a later render of the same stack), or this render's own
    const ciphertext = (key: string) => ciphertextOf(opts.secretsOf ?? name, key);
    for (const [key, value] of Object.entries(opts.config ?? {})) stack.config[`flowviz:${key}`] = value;
    for (const key of keys) stack.config[`flowviz:${key}`] = { secure: ciphertext(key) };
    mkdirSync(base, { recursive: true });
    writeFileSync(join(base, `Pulumi.${name}.yaml`), stringify(stack));
    const rendered = await render(join(base, `Pulumi.${name}.yaml`), join(base, name), opts.stack ?? name);
    return { rendered, secret: (key) => secretOf(opts.secretsOf ?? name, key) };
}

const ciphertextOf = (render: string, key: string) => `v1:${render}-${key}`;
/** The value a credential of renderWithSecrets(…, name, …) has, before rendering it. */
export const secretOf = (render: string, key: string) => standIn(`flowviz:${key}`, ciphertextOf(render, key));

/** pgbench's tables, created (and vacuumed) by the migration role; the app role then runs pgbench with -n. */
export function initPgbench(migrator: DataPath["migrator"]): void {
    runServerBinary("pgbench", ["-i", "-q", "-s", "10", "-h", "127.0.0.1", "-p", String(migrator.port), "-U", migrator.user, migrator.db], { env: { PGPASSWORD: migrator.password } });
}

/** A PostgreSQL program run as the server user (PostgreSQL refuses root). */
export function asPostgres(bin: Binary, args: string[]): string {
    return runServerBinary(bin, args, { asServerUser: true });
}

/**
 * psql's answer; `env` adds libpq settings (PGSSLMODE, ...). On a socket it runs as the server's
 * user, as a process of PostgreSQL's pod would (the superuser gets in there by peer).
 */
export function psql(args: { host?: string; port: number; user: string; password: string; db: string; sql: string; env?: Record<string, string> }): string {
    const host = args.host ?? "127.0.0.1";
    return runServerBinary("psql", ["-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", String(args.port), "-U", args.user, "-d", args.db, "-c", args.sql], {
        env: { PGPASSWORD: args.password, PGCONNECT_TIMEOUT: "10", ...args.env },
        asServerUser: host.startsWith("/"),
    }).trim();
}

export async function waitFor(what: string, check: () => boolean | Promise<boolean>, seconds = 30): Promise<void> {
    const end = Date.now() + seconds * 1000;
    while (Date.now() < end) {
        try {
            if (await check()) return;
        } catch {
            /* not yet */
        }
        await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`timed out after ${seconds}s waiting for ${what}`);
}

export interface PostgresOptions {
    /** where the server's socket is (default: its base folder) */
    socketDir?: string;
    /**
     * run the rendered archive_command (the backup tests, whose repository exists); the other
     * tests have no repository, so their server archives nothing
     */
    archive?: boolean;
}

export class PostgresServer {
    readonly data: string;
    constructor(readonly base: string, readonly rendered: Rendered, readonly port = 5432, readonly options: PostgresOptions = {}) {
        this.data = join(base, "pgdata");
    }
    get socketDir(): string {
        return this.options.socketDir ?? this.base;
    }
    get superuserPassword(): string {
        return readFileSync(join(this.rendered.files, "postgres", SECRET_FILE), "utf8");
    }
    init(): void {
        rmSync(this.base, { recursive: true, force: true });
        mkdirSync(this.base, { recursive: true });
        writeFileSync(join(this.base, "pw"), this.superuserPassword);
        chmodSync(join(this.base, "pw"), 0o600);
        chownToServer(this.base);
        asPostgres("initdb", ["-D", this.data, "-U", "postgres", `--pwfile=${this.base}/pw`, ...this.initdbArgs()]);
    }
    /** What the image's entrypoint passes initdb: the rendered POSTGRES_INITDB_ARGS of a Docker render, else the same defaults a Kubernetes render's StatefulSet carries. */
    initdbArgs(): string[] {
        const docker = this.rendered.plan.resources.some((r) => r.name === "postgres-container");
        if (docker) return this.rendered.env("postgres", "POSTGRES_INITDB_ARGS").split(" ");
        const statefulSet = this.rendered.plan.resources.find((r) => r.name === "postgres" && r.type === "kubernetes:apps/v1:StatefulSet");
        const env = (statefulSet?.inputs.spec.template.spec.containers[0].env ?? []) as { name: string; value?: string }[];
        const args = env.find((e) => e.name === "POSTGRES_INITDB_ARGS")?.value;
        if (!args) throw new Error("the render has no POSTGRES_INITDB_ARGS for PostgreSQL");
        return args.split(" ");
    }
    start(): void {
        const conf = join(this.rendered.files, "postgres");
        const options =
            `-c config_file=${conf}/postgresql.conf -c hba_file=${conf}/pg_hba.conf -c data_directory=${this.data} -c unix_socket_directories=${this.socketDir} ` +
            (this.options.archive ? "" : "-c archive_mode=off ") +
            // the container's paths, moved to where the render is
            `-c ssl_cert_file=${conf}/${TLS_FILES.cert} -c ssl_key_file=${conf}/${TLS_FILES.key} -c ssl_ca_file=${conf}/${TLS_FILES.ca}`;
        asPostgres("pg_ctl", ["-D", this.data, "-l", `${this.base}/postgres.log`, "-w", "-t", "60", "-o", options, "start"]);
    }
    stop(mode: "fast" | "immediate" = "fast"): void {
        if (existsSync(join(this.data, "postmaster.pid"))) asPostgres("pg_ctl", ["-D", this.data, "-m", mode, "-w", "stop"]);
    }
    /** Tells the server to reread its configuration files. */
    reload(): void {
        asPostgres("pg_ctl", ["-D", this.data, "reload"]);
    }
    /** The superuser over the local socket, with its password (TCP takes only its certificate). */
    superuser(password = this.superuserPassword): { host: string; port: number; user: string; password: string; db: string } {
        return { host: this.socketDir, port: this.port, user: "postgres", password, db: "postgres" };
    }
    /** The generated roles script of a render (by default this server's), as its roles job runs it: the job's command, its environment, its files. */
    applyRoles(rendered: Rendered = this.rendered): void {
        const job = rendered.container("postgres-roles");
        const dir = join(rendered.files, "postgres-roles");
        // the container's paths, moved to where the render is
        const local = (value: string) => value.replace(rendered.configDir("postgres-roles"), dir);
        const env = Object.fromEntries((job.envs as string[]).map((e) => [e.slice(0, e.indexOf("=")), local(e.slice(e.indexOf("=") + 1))]));
        runServerBinary(job.entrypoints[0] as Binary, (job.command as string[]).map(local), { env });
    }
}

/** PgBouncer in the foreground, working directory = its rendered folder (as in the container). */
export class PgBouncerServer {
    private proc?: ChildProcess;
    /** its log goes to a file: a pipe the test process drains only between synchronous calls (pgbench) fills, and blocks PgBouncer */
    private readonly logFile: string;
    constructor(readonly rendered: Rendered, readonly fileLimit: number) {
        this.logFile = join(rendered.dir, "pgbouncer.out");
    }
    get log(): string {
        return existsSync(this.logFile) ? readFileSync(this.logFile, "utf8") : "";
    }
    /** `env`: added to its environment (a bench's OPENSSL_CONF) */
    start(env: Record<string, string> = {}): void {
        const dir = join(this.rendered.files, "pgbouncer");
        const out = openSync(this.logFile, "a");
        this.proc = spawn(...serverCommand("pgbouncer", ["pgbouncer.ini"], { asServerUser: true, cwd: dir, fileLimit: this.fileLimit }), { stdio: ["ignore", out, out], env: { ...process.env, ...env } });
        closeSync(out);
    }
    /** The signal the generated container stops with (its graceful shutdown): Docker's stop signal, or the signal a Kubernetes preStop hook sends. */
    get stopSignal(): string {
        const deployment = this.rendered.plan.resources.find((r) => /^kubernetes:apps\/v1:(Deployment|StatefulSet)$/.test(r.type) && r.name === "pgbouncer");
        if (!deployment) return String(this.rendered.container("pgbouncer").stopSignal ?? "SIGTERM");
        const hook: string[] = deployment.inputs.spec.template.spec.containers[0].lifecycle?.preStop?.exec?.command ?? [];
        const signal = /kill -([A-Z]+) 1/.exec(hook.join(" "))?.[1];
        return signal ? `SIG${signal}` : "SIGTERM";
    }
    async stop(): Promise<void> {
        const p = this.proc;
        if (!p || p.exitCode !== null) return;
        const exited = new Promise((r) => p.once("exit", r));
        p.kill(this.stopSignal as NodeJS.Signals);
        await exited;
    }
}

/** The local stack, as the tests and the benchmark run it. */
export const LOCAL_STACK = "test/integration/Pulumi.local.yaml";
/** PgBouncer's open-file limit in the local stack (pgbouncer.fileDescriptorLimit). */
export const LOCAL_FILE_LIMIT = 16384;

export interface DataPath {
    rendered: Rendered;
    pg: PostgresServer;
    pgb: PgBouncerServer;
    /** the app role's login through PgBouncer */
    app: { port: number; user: string; password: string; db: string };
    /** the migration role's login (DDL), direct to PostgreSQL */
    migrator: { port: number; user: string; password: string; db: string };
    stop(): Promise<void>;
}

/** Renders the local stack and starts PostgreSQL (roles applied) and PgBouncer on its files. */
export async function startDataPath(base: string): Promise<DataPath> {
    const rendered = await render(join(ROOT, LOCAL_STACK), `${base}/render`);
    const pg = new PostgresServer(`${base}/pg`, rendered);
    pg.init();
    pg.start();
    pg.applyRoles();
    const pgb = new PgBouncerServer(rendered, LOCAL_FILE_LIMIT);
    pgb.start();
    const app = { port: 6432, user: "flowviz", password: rendered.plan.outputs.appDbPassword as string, db: "flowviz" };
    const migrator = { port: 5432, user: "flowviz_migrator", password: rendered.plan.outputs.migrationDbPassword as string, db: "flowviz" };
    await waitFor("PgBouncer", () => psql({ ...app, sql: "select 1" }) === "1");
    return {
        rendered,
        pg,
        pgb,
        app,
        migrator,
        async stop() {
            await pgb.stop();
            writeFileSync(`${base}/pgbouncer.log`, pgb.log);
            pg.stop("immediate");
        },
    };
}

/** A login of the data path as a pg client over TLS verified against the render's CA (the local stack's servers answer as localhost). */
function verifiedClient(path: DataPath, login: DataPath["app"], port: number): Client {
    return new Client({ host: "127.0.0.1", port, user: login.user, password: login.password, database: login.db, ssl: { ca: readFileSync(path.rendered.caFile, "utf8"), servername: "localhost" } });
}
/** The app's login through PgBouncer (another port: another PgBouncer of the same files). */
export const appClient = (path: DataPath, port = path.app.port) => verifiedClient(path, path.app, port);
/** The migration role's login, straight to PostgreSQL. */
export const migratorClient = (path: DataPath) => verifiedClient(path, path.migrator, path.migrator.port);
