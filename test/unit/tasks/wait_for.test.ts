import { describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { wait_forTask, portProbeArgv } from '../../../src/tasks/wait_for.js';
import { FakeHost } from '../../support/fake-probe.js';
import { applyFakeSteps, planOn } from '../../support/fake-steps.js';

const run = promisify(execFile);

async function exitOf(argv: string[]): Promise<number> {
  try {
    await run(argv[0] as string, argv.slice(1));
    return 0;
  } catch (e) {
    return (e as { code?: number }).code ?? -1;
  }
}

describe('wait_for', () => {
  it('is never changed; check mode says "would wait for"', async () => {
    const h = new FakeHost();
    const plan = await planOn(wait_forTask, h, { port: 5444 }, { check: true });
    expect(plan).toMatchObject({ changed: false, reason: 'would wait for port 127.0.0.1:5444 to accept connections' });
    expect(plan.steps.map((s) => s.kind)).toEqual(['call']);
  });

  it('needs exactly one of port, path, command', () => {
    expect(() => wait_forTask.args.parse({})).toThrow(/exactly one/);
    expect(() => wait_forTask.args.parse({ port: 1, path: '/x' })).toThrow(/exactly one/);
  });

  it('waits for a path and its content', async () => {
    const h = new FakeHost().file('/var/run/pem.ready', 'starting');
    const plan = await planOn(wait_forTask, h, { path: '/var/run/pem.ready', search_regex: 'ready', timeout: 2, sleep: 0.1 });
    setTimeout(() => h.file('/var/run/pem.ready', 'ready'), 200);
    await applyFakeSteps(h, plan.steps);
  });

  it('times out with the command failure explained', async () => {
    const h = new FakeHost().on(['pg_isready'], { exitCode: 2, stderr: 'no response' });
    const plan = await planOn(wait_forTask, h, { command: ['pg_isready', '-p', '5444'], timeout: 0.3, sleep: 0.1 });
    await expect(applyFakeSteps(h, plan.steps)).rejects.toThrow(/timed out after 0.3s waiting for pg_isready -p 5444 to exit 0 \(exit 2: no response\)/);
  });

  it('the port probe runs for real: open port exits 0, closed port does not, odd hosts stay arguments', async () => {
    const server = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const port = (server.address() as { port: number }).port;
    try {
      expect(await exitOf(portProbeArgv('127.0.0.1', port))).toBe(0);
    } finally {
      server.close();
    }
    expect(await exitOf(portProbeArgv('127.0.0.1', port))).not.toBe(0);
    expect(await exitOf(portProbeArgv('127.0.0.1; exit 0', port))).not.toBe(0);
  });
});
