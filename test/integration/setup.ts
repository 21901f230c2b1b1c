/** Before the integration suite: the servers are there, and the log names each one's version. */
import { serverVersions } from "../binaries";

export default function setup(): void {
    const lines = Object.entries(serverVersions()).map(([bin, v]) => `  ${bin}: ${v}`);
    console.log(`real servers (Debian 13):\n${lines.join("\n")}`);
}
