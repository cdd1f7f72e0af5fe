/**
 * The local transport's timeout and cancel must stop everything the command started, not just the
 * direct child: a backgrounded subshell, or the command sudo runs for become.
 */
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConnectionError } from '../../src/errors.js';
import { connectLocal } from '../../src/transport/local.js';
import type { ConnectionSpec } from '../../src/transport/types.js';

const dir = mkdtempSync(join(tmpdir(), 'fleetplay-local-edges-'));
chmodSync(dir, 0o777); // the become user (postgres) writes here too
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const spec: ConnectionSpec = {
  name: 'localhost',
  kind: 'local',
  address: '127.0.0.1',
  port: 0,
  user: 'root',
  become: false,
  becomeUser: 'root',
  knownHostsFile: '',
  acceptUnknownHostKey: false,
  connectTimeoutMs: 1000,
  keepaliveIntervalMs: 0,
};

describe('local transport: timeout and cancel', () => {
  it('kill the whole process group, under sudo too', async () => {
    const late = (name: string): string[] => ['sh', '-c', '(sleep 1.5; touch "$1") & wait', 'sh', join(dir, name)];
    const plain = connectLocal(spec);
    const sudo = connectLocal({ ...spec, become: true, becomeUser: 'postgres' });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const settled = await Promise.allSettled([
      plain.exec(late('timeout'), { timeoutMs: 300 }),
      plain.exec(late('cancel'), { signal: ac.signal }),
      sudo.exec(['sh', '-c', 'sleep 1.5; touch "$1"', 'sh', join(dir, 'sudo')], { timeoutMs: 300 }),
    ]);
    expect(settled.map((r) => (r.status === 'rejected' && r.reason instanceof ConnectionError ? 'ConnectionError' : r.status))).toEqual(Array(3).fill('ConnectionError'));
    await new Promise((r) => setTimeout(r, 2000));
    expect(['timeout', 'cancel', 'sudo'].filter((f) => existsSync(join(dir, f)))).toEqual([]);
    // the connection still works afterwards
    expect((await sudo.exec(['id', '-un'])).stdout).toBe('postgres\n');
  });
});
