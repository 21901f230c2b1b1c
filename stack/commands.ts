/** The commands check's messages print. */

/** The `pulumi config set` command that sets a key on a stack. */
export const setCommand = (ctx: { project: string; stack: string }, key: string, value: string | number | boolean) =>
    `pulumi config set --path ${ctx.project}:${key} ${value} -s ${ctx.stack}`;
