/**
 * Runs the Pulumi program under the SDK's mocks: no CLI, no engine, no cloud.
 * Records every resource the program registers (type, name, parent, inputs and the
 * options that matter for review) and the stack outputs. Used by `npm run render`
 * and by the tests, so both see exactly what a deployment would send.
 */
import { createHash } from "node:crypto";
import type * as pulumiType from "@pulumi/pulumi";

export interface RecordedResource {
    type: string;
    name: string;
    /** `type::name` of the parent; undefined for the stack's direct children */
    parent?: string;
    inputs: Record<string, unknown>;
    protect: boolean;
    retainOnDelete: boolean;
    /** replaced by deleting first (a fixed name, host port or volume the replacement would collide with) */
    deleteBeforeReplace: boolean;
    /** `type::name` of each resource it waits for (dependsOn, components expanded to their resources) */
    dependsOn: string[];
}

export interface ProgramRun {
    resources: RecordedResource[];
    outputs: Record<string, unknown>;
    /** names of the stack outputs that are Pulumi secrets */
    secretOutputs: string[];
}

export interface RunOptions {
    project?: string;
    stack: string;
    /** `project:key` -> value, as Pulumi passes config (objects as JSON text) */
    config: Record<string, string>;
    /** keys of `config` that were set as secrets */
    secretKeys?: string[];
    /** program module to load (default: the repository's index.ts) */
    program?: string;
}

interface RegisterRequest {
    getType(): string;
    getName(): string;
    getParent(): string;
    getObject(): unknown;
    getProtect(): boolean | undefined;
    getRetainondelete(): boolean | undefined;
    getDeletebeforereplace(): boolean;
    getDependenciesList(): string[];
}
interface MockMonitor {
    registerResource(req: RegisterRequest, callback: (err: unknown, res: unknown) => void): unknown;
}

/** `type::name` from a URN (`urn:pulumi:stack::project::parent$type::name`). */
function urnKey(urn: string): string {
    const parts = urn.split("::");
    const types = parts[2] ?? "";
    return `${types.split("$").pop()}::${parts.slice(3).join("::")}`;
}

const digest = (s: string) => createHash("sha256").update(s).digest();

/** The name Kubernetes auto-naming gives an object the program left unnamed (stable under mocks). */
export const autoName = (resourceName: string) => `${resourceName}-${digest(resourceName).toString("hex").slice(0, 8)}`;

/** A stand-in PEM block, marked as such. */
const pem = (label: string, name: string) => `-----BEGIN ${label}-----\nrender stand-in for ${name}\n-----END ${label}-----\n`;

/** Computed outputs the providers would return; deterministic so renders are stable. */
function computedState(type: string, name: string, inputs: Record<string, any>): Record<string, unknown> {
    switch (type) {
        case "random:index/randomPassword:RandomPassword":
            return { result: digest(`password:${name}`).toString("hex").slice(0, inputs.length ?? 32) };
        case "random:index/randomBytes:RandomBytes":
            return { base64: digest(`bytes:${name}`).subarray(0, inputs.length ?? 16).toString("base64") };
        // Certificates and keys are made by the provider at deploy time; the render shows
        // where they go (tests swap in real ones made with openssl for the same names).
        case "tls:index/privateKey:PrivateKey":
            return { privateKeyPem: pem("PRIVATE KEY", name), publicKeyPem: pem("PUBLIC KEY", name) };
        case "tls:index/certRequest:CertRequest":
            return { certRequestPem: pem("CERTIFICATE REQUEST", name) };
        case "tls:index/selfSignedCert:SelfSignedCert":
        case "tls:index/locallySignedCert:LocallySignedCert":
            return { certPem: pem("CERTIFICATE", name), readyForRenewal: false };
        case "docker:index/remoteImage:RemoteImage":
            return { imageId: `sha256:${digest(String(inputs.name)).toString("hex")}`, repoDigest: `${inputs.name}` };
        default:
            if (type.startsWith("kubernetes:") && inputs.metadata && !inputs.metadata.name) {
                return { metadata: { ...inputs.metadata, name: autoName(name) } };
            }
            return {};
    }
}

export async function runProgram(opts: RunOptions): Promise<ProgramRun> {
    const pulumi: typeof pulumiType = await import("@pulumi/pulumi");
    const project = opts.project ?? "flowviz";
    const resources: RecordedResource[] = [];

    pulumi.runtime.setAllConfig(opts.config, opts.secretKeys ?? []);
    await pulumi.runtime.setMocks(
        {
            newResource: (args) => ({ id: `${args.name}-id`, state: { ...args.inputs, ...computedState(args.type, args.name, args.inputs) } }),
            call: (args) => args.inputs,
        },
        project,
        opts.stack,
        false,
    );
    // The Mocks interface hides the parent and the resource options; the request the
    // SDK sends to the (mock) engine carries them, so record from there.
    const monitor = (pulumi.runtime as unknown as { getMonitor(): MockMonitor }).getMonitor();
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req, callback) => {
        const parentUrn = req.getParent();
        resources.push({
            type: req.getType(),
            name: req.getName(),
            parent: parentUrn ? urnKey(parentUrn) : undefined,
            inputs: pulumi.runtime.deserializeProperties(req.getObject() as Parameters<typeof pulumi.runtime.deserializeProperties>[0]),
            protect: req.getProtect() === true,
            retainOnDelete: req.getRetainondelete() === true,
            deleteBeforeReplace: req.getDeletebeforereplace() === true,
            dependsOn: req.getDependenciesList().map(urnKey),
        });
        return register(req, callback);
    };

    // The SDK takes each resource's source position from a whole stack trace (Resource.callsites). Mapped through source
    // maps (Node's under tsx, vite's under vitest) that was a tenth of a render's CPU in a process of its own and a quarter
    // in a test worker, and nothing here reads the positions. Errors keep mapped stacks: V8 formats a stack when it is read.
    const errors: { prepareStackTrace?: ErrorConstructor["prepareStackTrace"] } = Error;
    const mapped = process.sourceMapsEnabled;
    const prepare = errors.prepareStackTrace;
    process.setSourceMapsEnabled(false);
    errors.prepareStackTrace = undefined;
    try {
        return await recordProgram(pulumi, opts, resources);
    } finally {
        errors.prepareStackTrace = prepare;
        process.setSourceMapsEnabled(mapped);
    }
}

/** Program modules a render has run: imported again, a module is not run again and would record nothing. */
const programsRun = new WeakSet<object>();

async function recordProgram(pulumi: typeof pulumiType, opts: RunOptions, resources: RecordedResource[]): Promise<ProgramRun> {
    let program: Record<string, unknown>;
    try {
        program = (await import(opts.program ?? "../index")) as Record<string, unknown>;
    } catch (e) {
        throw Object.assign(e as Error, { registered: resources.length });
    }
    if (programsRun.has(program)) {
        throw new Error("the program's modules already ran in this process: a second render needs them loaded afresh (under vitest: vi.resetModules() first)");
    }
    programsRun.add(program);
    const outputs: Record<string, unknown> = {};
    const secretOutputs: string[] = [];
    for (const [k, v] of Object.entries(program)) {
        if (!pulumi.Output.isInstance(v)) {
            outputs[k] = v;
            continue;
        }
        outputs[k] = await new Promise((resolve) => v.apply(resolve));
        if (await pulumi.isSecret(v)) secretOutputs.push(k);
    }
    await (pulumi.runtime as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
    return { resources, outputs, secretOutputs };
}
