import { describe, expect, it } from 'vitest';
import { ownerSpec, parseStatLine, tempPathFor } from '../../../src/transport/shellfs.js';
import { Semaphore } from '../../../src/transport/semaphore.js';

describe('shellfs helpers', () => {
  it('parses stat -c output', () => {
    expect(parseStatLine('/etc/x', 'regular file|600|0|101|root|UNKNOWN|12|1700000000.250\n')).toEqual({
      path: '/etc/x', type: 'file', mode: 0o600, uid: 0, gid: 101, owner: 'root', group: '101', size: 12, mtimeMs: 1700000000250,
    });
    expect(parseStatLine('/l', 'symbolic link|777|0|0|root|root|4|1.000').type).toBe('symlink');
    expect(parseStatLine('/d', 'directory|1777|0|0|root|root|4096|1.000').mode).toBe(0o1777);
    expect(parseStatLine('/f', 'regular empty file|644|0|0|root|root|0|1.000').type).toBe('file');
    expect(parseStatLine('/p', 'fifo|644|0|0|root|root|0|1.000').type).toBe('other');
  });
  it('puts the temp file hidden in the same directory, under a fixed name rollback can clean up', () => {
    const t = tempPathFor('/etc/pem/agent 1.crt');
    expect(t).toBe('/etc/pem/.agent 1.crt.fleetplay-write.tmp');
  });
  it('builds chown specs', () => {
    expect(ownerSpec({})).toBeNull();
    expect(ownerSpec({ owner: 'pem' })).toBe('pem');
    expect(ownerSpec({ group: 'pem' })).toBe(':pem');
    expect(ownerSpec({ owner: 'pem', group: 'ssl' })).toBe('pem:ssl');
  });
});

describe('Semaphore', () => {
  it('never lets more than the limit run at once', async () => {
    const sem = new Semaphore(3);
    let running = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        const release = await sem.acquire();
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 2));
        running--;
        release();
      }),
    );
    expect(peak).toBe(3);
    expect(sem.inUse).toBe(0);
  });
});
