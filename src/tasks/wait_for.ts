/**
 * `wait_for`: wait until a TCP port on the host accepts connections (or stops), a path appears
 * (optionally containing `search_regex`) or disappears, or a command exits 0. Port checks run ON
 * the host (bash /dev/tcp, else `nc -z`), host and port passed as arguments, never pasted into
 * the script. Never changed and nothing to undo; in check mode it reports "would wait for ...".
 */
import { z } from 'zod';
import { defineTask } from './types.js';
import type { CallStep, StepApi } from './steps.js';
import { explainFailure } from './steps.js';
import type { CommandResult } from '../transport/types.js';
import { argvArg, pathArg, secondsArg } from './lib/args.js';
import { pyRegExp } from './lib/lineedit.js';
import { TaskError } from '../errors.js';

export const wait_forArgs = z
  .strictObject({
    host: z.string().min(1).default('127.0.0.1'),
    port: z.coerce.number().int().min(1).max(65535).optional(),
    path: pathArg.optional(),
    search_regex: z.string().optional(),
    command: argvArg.optional(),
    state: z.enum(['started', 'stopped', 'present', 'absent']).default('started'),
    timeout: secondsArg.default(60),
    delay: secondsArg.default(0),
    sleep: secondsArg.default(1),
    msg: z.string().optional(),
  })
  .refine((a) => [a.port, a.path, a.command].filter((x) => x !== undefined).length === 1, { error: 'give exactly one of port, path or command' })
  .refine((a) => a.search_regex === undefined || a.path !== undefined, { error: 'search_regex needs path' });

/** Exit 0 when host:port accepts a TCP connection, as seen from the remote host. */
export const PORT_PROBE_SCRIPT =
  'if command -v bash >/dev/null 2>&1; then exec timeout 3 bash -c "exec 3<>/dev/tcp/\\$0/\\$1" "$1" "$2"; else exec nc -z -w 3 "$1" "$2"; fi';

export function portProbeArgv(host: string, port: number): string[] {
  return ['sh', '-c', PORT_PROBE_SCRIPT, 'wait_for', host, String(port)];
}

type Args = z.infer<typeof wait_forArgs>;

function describe(a: Args): string {
  const up = a.state === 'started' || a.state === 'present';
  if (a.port !== undefined) return `port ${a.host}:${a.port} to ${up ? 'accept connections' : 'close'}`;
  if (a.path !== undefined) return `${a.path} to ${up ? `exist${a.search_regex !== undefined ? ` and match /${a.search_regex}/` : ''}` : 'be absent'}`;
  return `${(a.command ?? []).join(' ')} to exit 0`;
}

/** One check: true when the wanted condition holds. */
async function holds(api: StepApi, a: Args, last: { r?: CommandResult }): Promise<boolean> {
  const up = a.state === 'started' || a.state === 'present';
  if (a.port !== undefined) {
    last.r = await api.conn.exec(portProbeArgv(a.host, a.port), { signal: api.signal });
    return (last.r.exitCode === 0) === up;
  }
  if (a.path !== undefined) {
    const st = await api.conn.stat(a.path);
    if (!up) return st === null;
    if (st === null) return false;
    if (a.search_regex === undefined) return true;
    const content = await api.conn.readFile(a.path);
    return content !== null && pyRegExp(a.search_regex).test(content.toString('utf8'));
  }
  last.r = await api.conn.exec(a.command ?? [], { signal: api.signal });
  return last.r.exitCode === 0;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });
}

export const wait_forTask = defineTask({
  name: 'wait_for',
  aliases: ['ansible.builtin.wait_for'],
  args: wait_forArgs,
  async plan(ctx) {
    const a = ctx.args;
    const what = describe(a);
    const step: CallStep = {
      kind: 'call',
      label: `wait up to ${a.timeout}s for ${what}`,
      async run(api) {
        const start = Date.now();
        if (a.delay > 0) await sleep(a.delay * 1000, api.signal);
        const deadline = start + a.timeout * 1000;
        const last: { r?: CommandResult } = {};
        for (;;) {
          if (await holds(api, a, last)) return { elapsed: Math.round((Date.now() - start) / 1000) };
          if (Date.now() >= deadline || api.signal.aborted) break;
          await sleep(Math.max(0.1, a.sleep) * 1000, api.signal);
        }
        const detail = last.r !== undefined && a.command !== undefined ? ` (${explainFailure(last.r)})` : '';
        throw new TaskError(a.msg ?? `timed out after ${a.timeout}s waiting for ${what}${detail}`, {
          host: api.conn.host,
          hint: 'check that the service is running on the host, or raise timeout:',
        });
      },
    };
    return { changed: false, reason: `${ctx.check ? 'would wait' : 'wait'} for ${what}`, steps: [step] };
  },
});
