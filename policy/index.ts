/** The flowviz policy pack: `pulumi preview --policy-pack policy` (policies in policies.ts). */
import { PolicyPack } from "@pulumi/policy";
import { POLICIES } from "./policies";

new PolicyPack("flowviz", { policies: POLICIES });
