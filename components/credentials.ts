import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { scramVerifier } from "../configs/scram";
import { SecretKeys, type SecretKey } from "../stack/schema";

export interface CredentialsArgs {
    /** credentials the stack set as `secure:` values; every other one is generated */
    readonly provided: Partial<Record<SecretKey, string>>;
}

/**
 * Every credential of the stack, as secret outputs: the stack's `secure:` value when
 * set, otherwise a 32-character password from @pulumi/random kept in the state.
 */
export class Credentials extends pulumi.ComponentResource {
    private readonly values = new Map<SecretKey, pulumi.Output<string>>();
    private readonly verifiers = new Map<SecretKey, pulumi.Output<string>>();

    constructor(private readonly name: string, args: CredentialsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("flowviz:secrets:Credentials", name, {}, opts);
        for (const key of Object.keys(SecretKeys) as SecretKey[]) {
            const given = args.provided[key];
            const value = given ?? new random.RandomPassword(`${name}-${key}`, { length: 32, special: false }, { parent: this }).result;
            // Secret whatever the provider declares: every value derived from it stays secret too.
            this.values.set(key, pulumi.secret(value));
        }
        this.registerOutputs({});
    }

    get(key: SecretKey): pulumi.Output<string> {
        return this.values.get(key)!;
    }

    /**
     * The SCRAM-SHA-256 verifier of a credential, with a random 16-byte salt kept in
     * the state so the verifier only changes when the password does.
     */
    verifier(key: SecretKey): pulumi.Output<string> {
        let verifier = this.verifiers.get(key);
        if (!verifier) {
            const salt = new random.RandomBytes(`${this.name}-${key}-salt`, { length: 16 }, { parent: this });
            verifier = pulumi.secret(pulumi.all([this.get(key), salt.base64]).apply(([password, s]) => scramVerifier(password, s)));
            this.verifiers.set(key, verifier);
        }
        return verifier;
    }
}
