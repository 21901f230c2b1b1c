/** Before the integration suite: the servers are there, and the log names each one's version. */
import { serverVersions } from "../binaries";

export default function setup(): void {
    const versions = serverVersions();
    console.log(`real servers (Debian 13):\n${Object.entries(versions).map(([name, v]) => `  ${name}: ${v}`).join("\n")}`);
}
