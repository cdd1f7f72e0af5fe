/** The local transport (same semantics as SSH, on the controller) and the connection pool. */
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionError } from '../../src/errors.js';
import { connectLocal } from '../../src/transport/local.js';
import { ConnectionPool } from '../../src/transport/pool.js';
import type { ConnectionSpec } from '../../src/transport/types.js';
import { startTestFleet } from '../support/sshd-fleet.js';
import type { TestFleet } from '../support/sshd-fleet.js';

const PG_UID = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
const dir = mkdtempSync(join(tmpdir(), 'fp-local-'));
const localSpec: ConnectionSpec = {
  name: 'controller', kind: 'local', address: '127.0.0.1', port: 0, user: 'root', become: false, becomeUser: 'root',
  knownHostsFile: '/dev/null', acceptUnknownHostKey: false, connectTimeoutMs: 1000, keepaliveIntervalMs: 0,
};

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('local transport', () => {
  const c = connectLocal(localSpec);

  it('runs argv without a shell, with cwd, env and stdin', async () => {
    const canary = join(dir, 'canary');
    const args = ['a b', `$(touch ${canary})`, '; rm -rf /', "'", '-n'];
    const r = await c.exec(['printf', '%s\\0', ...args]);
    expect(r.stdout.split('\0').slice(0, -1)).toEqual(args);
    expect((await c.exec(['sh', '-c', 'pwd; printf %s "$V"; cat'], { cwd: dir, env: { V: 'v w' }, stdin: 'IN' })).stdout).toBe(`${dir}\nv wIN`);
    expect(existsSync(canary)).toBe(false);
  });

  it('reports exit codes and signals like a shell, 127 for a missing command', async () => {
    expect((await c.exec(['sh', '-c', 'echo e >&2; exit 4'])).exitCode).toBe(4);
    expect(await c.exec(['sh', '-c', 'kill -TERM $$'])).toMatchObject({ signal: 'SIGTERM', exitCode: 143 });
    expect((await c.exec(['no-such-command-fp'])).exitCode).toBe(127);
    await expect(c.exec(['sleep', '5'], { timeoutMs: 200 })).rejects.toBeInstanceOf(ConnectionError);
  });

  it('writes atomically with mode and owner, replacing a symlink', async () => {
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'keep');
    const p = join(dir, 'key.pem');
    symlinkSync(victim, p);
    await c.writeFileAtomic(p, 'KEY', { mode: 0o600, owner: 'postgres' });
    expect(lstatSync(p).isFile()).toBe(true);
    expect([statSync(p).mode & 0o777, statSync(p).uid]).toEqual([0o600, PG_UID]);
    expect(readFileSync(victim, 'utf8')).toBe('keep');
    expect((await c.readFile(p))?.toString()).toBe('KEY');
    expect(await c.stat(p)).toMatchObject({ type: 'file', owner: 'postgres', mode: 0o600, size: 3 });
    expect(await c.stat(join(dir, 'missing'))).toBeNull();
    expect(await c.readFile(join(dir, 'missing'))).toBeNull();
    expect(readdirSync(dir).filter((f) => f.includes('fleetplay'))).toEqual([]);
  });

  it('becomes another user with sudo', async () => {
    const b = connectLocal({ ...localSpec, become: true, becomeUser: 'postgres' });
    expect((await b.exec(['id', '-un'], { env: { X: '1' } })).stdout).toBe('postgres\n');
    expect((await b.exec(['sh', '-c', 'echo $X'], { env: { X: 'a b' } })).stdout).toBe('a b\n');
  });
});

describe('ConnectionPool', () => {
  let tf: TestFleet;
  beforeAll(async () => {
    tf = await startTestFleet(['p1', 'p2']);
  });
  afterAll(async () => {
    await tf?.dispose();
  });

  it('shares one connection per host among concurrent callers', async () => {
    const pool = new ConnectionPool({});
    const conns = await Promise.all([pool.get(tf.spec('p1')), pool.get(tf.spec('p1')), pool.get(tf.spec('p2'))]);
    expect(conns[0]).toBe(conns[1]);
    expect(conns[0]).not.toBe(conns[2]);
    // Both execs ran on the same SSH connection: same client port seen by the server.
    const ports = await Promise.all(conns.slice(0, 2).map(async (c) => (await c.exec(['sh', '-c', 'echo $SSH_CONNECTION'])).stdout.split(' ')[1]));
    expect(ports[0]).toBe(ports[1]);
    await pool.closeAll();
    await expect(conns[0]!.exec(['true'])).rejects.toBeInstanceOf(ConnectionError);
  });

  it('remembers a failed connect for the run', async () => {
    const pool = new ConnectionPool({});
    await tf.fleet.stopHost('p2');
    await expect(pool.get(tf.spec('p2'))).rejects.toBeInstanceOf(ConnectionError);
    await tf.fleet.startHost('p2');
    await expect(pool.get(tf.spec('p2'))).rejects.toThrow(/refused/);
    expect(await (await pool.get(localSpec)).exec(['true'])).toMatchObject({ exitCode: 0 });
    await pool.closeAll();
  });

  it('a cancelled run does not connect', async () => {
    const ac = new AbortController();
    ac.abort();
    const pool = new ConnectionPool({ signal: ac.signal });
    await expect(pool.get(tf.spec('p1'))).rejects.toThrow(/cancelled/);
  });
});
