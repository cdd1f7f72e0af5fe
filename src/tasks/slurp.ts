/**
 * slurp: register a file's content (base64, as Ansible's slurp; `| b64decode` gives the text), e.g.
 * to bundle the old CA from root.crt with a new chain. Read-only; never changed; nothing to roll back.
 * A private key is refused unless `secret: true`, and then its content is masked in every output.
 */
import { z } from 'zod';
import { boolArg, pathArg } from './lib/args.js';
import { looksSecret } from './lib/secret.js';
import { defineTask, noChange } from './types.js';

const MAX_BYTES = 1024 * 1024;

export const slurpTask = defineTask({
  name: 'slurp',
  aliases: ['ansible.builtin.slurp'],
  args: z.strictObject({
    src: pathArg,
    /** Allow a secret (private key) and mask its content everywhere. */
    secret: boolArg.default(false),
  }),
  async plan(ctx) {
    const { src, secret } = ctx.args;
    const st = await ctx.probe.stat(src);
    if (st === null) return { changed: false, steps: [], failed: `${src} does not exist on ${ctx.host.name}` };
    if (st.type !== 'file') return { changed: false, steps: [], failed: `${src} is not a regular file (${st.type})` };
    if (st.size > MAX_BYTES) return { changed: false, steps: [], failed: `${src} is ${st.size} bytes; slurp reads files up to 1 MiB` };
    const data = (await ctx.probe.readFile(src)) ?? Buffer.alloc(0);
    if (looksSecret(data)) {
      if (!secret) {
        return { changed: false, steps: [], failed: `${src} holds a private key; slurp refuses it unless secret: true (its content is then masked everywhere)` };
      }
      ctx.addSecret(data.toString('utf8').trim());
      ctx.addSecret(data.toString('base64'));
    }
    return noChange(`read ${src} (${data.length} bytes)`, { content: data.toString('base64'), encoding: 'base64', source: src });
  },
});
