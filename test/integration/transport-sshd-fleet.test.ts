/**
 * The lab's sshd fleet itself: a start is only complete when our own sshd listens (not someone
 * else's on the same address and port), stopHost takes exactly one host down, stop leaves nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startSshdFleet } from '../../src/lab/sshd.js';
import type { SshdFleet } from '../../src/lab/sshd.js';

const dirs: string[] = [];
const fleets: SshdFleet[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'fleetplay-fleet-'));
  dirs.push(d);
  return d;
};
afterAll(async () => {
  await Promise.all(fleets.map((f) => f.stop()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const accepts = (address: string, port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = connect({ host: address, port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });

describe('sshd fleet', () => {
  it('refuses to call a host up when another sshd holds its address and port', async () => {
    const port = 40000 + Math.floor(Math.random() * 9000);
    const a = await startSshdFleet({ dir: tmp(), names: ['a1'], basePort: port, addressBase: '127.0.77.2' });
    fleets.push(a);
    await expect(startSshdFleet({ dir: tmp(), names: ['b1'], basePort: port, addressBase: '127.0.77.2' })).rejects.toThrow(/b1/);
  });

  it('stopHost takes one host down, startHost brings it back, stop leaves no process', async () => {
    const f = await startSshdFleet({ dir: tmp(), names: ['d1', 'd2'], addressBase: '127.0.79.2' });
    const [d1, d2] = f.hosts as [(typeof f.hosts)[0], (typeof f.hosts)[0]];
    const pids = f.pids;
    await f.stopHost('d1');
    expect(await accepts(d1.address, d1.port)).toBe(false);
    expect(await accepts(d2.address, d2.port)).toBe(true);
    await f.startHost('d1');
    expect(await accepts(d1.address, d1.port)).toBe(true);
    const all = [...pids, ...f.pids];
    await f.stop();
    expect(all.filter(alive)).toEqual([]);
    expect(await accepts(d2.address, d2.port)).toBe(false);
  });
});
