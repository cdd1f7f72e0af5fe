/** The SSH transport against real OpenSSH sshd processes on loopback. */
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, chownSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionError, TaskError } from '../../src/errors.js';
import { connectSsh } from '../../src/transport/ssh.js';
import type { Connection } from '../../src/transport/types.js';
import { startTestFleet } from '../support/sshd-fleet.js';
import type { TestFleet } from '../support/sshd-fleet.js';

const NASTY = ['two words', "it's", 'a"b', '; touch CANARY', '$(touch CANARY)', '`touch CANARY`', 'l1\nl2', '-rf', '--', '', '*', '$HOME', '\\'];
const PG_UID = Number(readFileSync('/etc/passwd', 'utf8').match(/^postgres:[^:]*:(\d+):/m)?.[1] ?? NaN);

let tf: TestFleet;
let conn: Connection;
let root: string;

beforeAll(async () => {
  tf = await startTestFleet(['web1', 'web2', 'db1']);
  conn = await connectSsh(tf.spec('web1'));
  root = tf.hosts[0]!.root;
});
afterAll(async () => {
  await conn?.close();
  await tf?.dispose();
});

describe('exec', () => {
  it('returns exit code, stdout and stderr, and never throws on failure', async () => {
    const r = await conn.exec(['sh', '-c', 'echo out; echo err >&2; exit 7']);
    expect(r).toMatchObject({ exitCode: 7, signal: null, stdout: 'out\n', stderr: 'err\n' });
  });

  it('feeds stdin and ends it', async () => {
    expect((await conn.exec(['wc', '-c'], { stdin: 'x'.repeat(100_000) })).stdout.trim()).toBe('100000');
    expect((await conn.exec(['cat'])).stdout).toBe('');
  });

  it('reports a signal', async () => {
    const r = await conn.exec(['sh', '-c', 'kill -TERM $$']);
    expect(r).toMatchObject({ signal: 'SIGTERM', exitCode: 143 });
  });

  it('delivers hostile argv literally and runs nothing', async () => {
    const canary = join(root, 'canary');
    const args = NASTY.map((a) => a.replace('CANARY', canary));
    const r = await conn.exec(['printf', '%s\\0', ...args], { cwd: root, env: { X: `$(touch ${canary})` } });
    expect(r.stdout.split('\0').slice(0, -1)).toEqual(args);
    expect((await conn.exec(['sh', '-c', 'printf %s "$X"'], { env: { X: `$(touch ${canary})` } })).stdout).toBe(`$(touch ${canary})`);
    expect(existsSync(canary)).toBe(false);
  });

  it('runs in cwd', async () => {
    const d = join(root, "a dir 'x'");
    mkdirSync(d);
    expect((await conn.exec(['pwd'], { cwd: d })).stdout).toBe(`${d}\n`);
  });

  it('runs 20 concurrent commands on one connection, never more than 8 at once', async () => {
    const locks = join(root, 'locks');
    mkdirSync(locks);
    const script = 'mkdir "$1/$2"; ls "$1" | wc -l; sleep 0.3; rmdir "$1/$2"';
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => conn.exec(['sh', '-c', script, 'sh', locks, String(i)])));
    expect(results.every((r) => r.exitCode === 0)).toBe(true);
    const peak = Math.max(...results.map((r) => Number(r.stdout.trim())));
    expect(peak).toBeGreaterThan(1);
    expect(peak).toBeLessThanOrEqual(8);
    expect(readdirSync(locks)).toEqual([]);
  });

  it('times out with a ConnectionError and the connection stays usable', async () => {
    const t = Date.now();
    await expect(conn.exec(['sleep', '5'], { timeoutMs: 300 })).rejects.toThrow(/timed out after 300ms/);
    expect(Date.now() - t).toBeLessThan(2000);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    await expect(conn.exec(['sleep', '5'], { signal: ac.signal })).rejects.toBeInstanceOf(ConnectionError);
    expect((await conn.exec(['echo', 'still here'])).stdout).toBe('still here\n');
  });
});

describe('files over SFTP', () => {
  it('writes atomically with mode 0600 from the start and the given owner', async () => {
    const p = join(root, 'key.pem');
    await conn.writeFileAtomic(p, 'SECRET', { mode: 0o600 });
    expect(statSync(p).mode & 0o777).toBe(0o600);
    expect(readFileSync(p, 'utf8')).toBe('SECRET');
    await conn.writeFileAtomic(p, Buffer.from([0, 1, 2, 255]), { mode: 0o640, owner: 'postgres', group: 'postgres' });
    const st = statSync(p);
    expect([st.mode & 0o777, st.uid]).toEqual([0o640, PG_UID]);
    expect([...readFileSync(p)]).toEqual([0, 1, 2, 255]);
    expect(readdirSync(root).filter((f) => f.includes('fleetplay'))).toEqual([]);
  });

  it('writes a large file intact', async () => {
    const p = join(root, 'big.bin');
    const data = Buffer.alloc(300_000, 'abc');
    await conn.writeFileAtomic(p, data, { mode: 0o644 });
    expect(readFileSync(p).equals(data)).toBe(true);
    expect((await conn.readFile(p))?.equals(data)).toBe(true);
  });

  it('replaces a symlink at the target instead of writing through it', async () => {
    const victim = join(root, 'victim');
    writeFileSync(victim, 'keep me');
    const link = join(root, 'link.crt');
    symlinkSync(victim, link);
    expect((await conn.stat(link))?.type).toBe('symlink');
    await conn.writeFileAtomic(link, 'new', { mode: 0o644 });
    expect(lstatSync(link).isFile()).toBe(true);
    expect(readFileSync(link, 'utf8')).toBe('new');
    expect(readFileSync(victim, 'utf8')).toBe('keep me');
  });

  it('fails cleanly into a missing directory, leaving no temp file', async () => {
    await expect(conn.writeFileAtomic(join(root, 'nope', 'x'), 'x', { mode: 0o600 })).rejects.toBeInstanceOf(TaskError);
    const p = join(root, 'owned');
    await expect(conn.writeFileAtomic(p, 'x', { mode: 0o600, owner: 'no-such-user-fp' })).rejects.toBeInstanceOf(TaskError);
    expect(readdirSync(root).filter((f) => f.includes('fleetplay'))).toEqual([]);
    expect(existsSync(p)).toBe(false);
  });

  it('stat and readFile: null when missing, names for owner and group', async () => {
    expect(await conn.stat(join(root, 'missing'))).toBeNull();
    expect(await conn.readFile(join(root, 'missing'))).toBeNull();
    const p = join(root, 'st');
    writeFileSync(p, 'hello', { mode: 0o604 });
    chownSync(p, PG_UID, 0);
    expect(await conn.stat(p)).toMatchObject({ type: 'file', mode: 0o604, uid: PG_UID, owner: 'postgres', group: 'root', size: 5 });
    expect((await conn.stat(root))?.type).toBe('directory');
  });
});

describe('become', () => {
  it('runs commands and file work as the become user through sudo', async () => {
    const c = await connectSsh(tf.spec('web2', { become: true, becomeUser: 'postgres' }));
    try {
      expect((await c.exec(['id', '-un'])).stdout).toBe('postgres\n');
      expect((await c.exec(['id', '-un'], { become: false })).stdout).toBe('root\n');
      const d = join(tf.hosts[1]!.root, 'pgdir');
      mkdirSync(d, { mode: 0o700 });
      chownSync(d, PG_UID, 0);
      const p = join(d, 'server.key');
      await c.writeFileAtomic(p, 'KEY', { mode: 0o600 });
      expect([statSync(p).uid, statSync(p).mode & 0o777]).toEqual([PG_UID, 0o600]);
      expect((await c.readFile(p))?.toString()).toBe('KEY');
      expect(await c.stat(p)).toMatchObject({ owner: 'postgres', mode: 0o600, type: 'file' });
      expect(await c.stat(join(d, 'missing'))).toBeNull();
      expect(await c.readFile(join(d, 'missing'))).toBeNull();
      const args = NASTY.map((a) => a.replace('CANARY', join(d, 'canary')));
      expect((await c.exec(['printf', '%s\\0', ...args], { cwd: d })).stdout.split('\0').slice(0, -1)).toEqual(args);
      expect(existsSync(join(d, 'canary'))).toBe(false);
    } finally {
      await c.close();
    }
  });

  it('skips sudo when the login user is the target', async () => {
    const c = await connectSsh(tf.spec('web2', { become: true, becomeUser: 'root' }));
    try {
      const env = (await c.exec(['env'])).stdout;
      expect(env).not.toContain('SUDO_USER=');
      expect(env).toContain('SSH_CONNECTION=');
    } finally {
      await c.close();
    }
  });
});

describe('tunnels', () => {
  let server: Server;
  afterAll(() => server?.close());
  it('forwards TCP to a port seen from the host', async () => {
    server = createServer((s) => s.on('data', (d) => s.end(`echo:${d.toString()}`)));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const stream = await conn.forwardTcp('127.0.0.1', port);
    const reply = await new Promise<string>((resolve) => {
      let buf = '';
      stream.on('data', (d: Buffer) => (buf += d.toString()));
      stream.on('end', () => resolve(buf));
      stream.write('ping');
    });
    expect(reply).toBe('echo:ping');
    stream.destroy();
  });
});

describe('failures', () => {
  it('a stopped host fails fast with ConnectionError', async () => {
    await tf.fleet.stopHost('db1');
    const t = Date.now();
    const err = await connectSsh(tf.spec('db1')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as ConnectionError).message).toMatch(/refused/);
    expect(Date.now() - t).toBeLessThan(2000);
    await tf.fleet.startHost('db1');
  });

  it('a connection dropped mid-command fails that command and later ones with "lost"', async () => {
    const c = await connectSsh(tf.spec('db1'));
    // Handlers attached at once: the rejections arrive while the test still awaits stopHost().
    const running = c.exec(['sleep', '5']).catch((e: unknown) => e);
    const reading = c.exec(['sh', '-c', 'sleep 5; echo never']).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 300));
    const t = Date.now();
    await tf.fleet.stopHost('db1');
    expect(await running).toBeInstanceOf(ConnectionError);
    expect(String(await running)).toMatch(/connection to db1 lost/);
    expect(await reading).toBeInstanceOf(ConnectionError);
    expect(Date.now() - t).toBeLessThan(3000);
    await expect(c.exec(['true'])).rejects.toThrow(/connection to db1 lost/);
    await expect(c.readFile('/etc/hostname')).rejects.toThrow(/connection to db1 lost/);
    await c.close();
    await tf.fleet.startHost('db1');
    const again = await connectSsh(tf.spec('db1'));
    expect((await again.exec(['echo', 'back'])).stdout).toBe('back\n');
    await again.close();
  });

  it('a closed connection refuses further work', async () => {
    const c = await connectSsh(tf.spec('web2'));
    await c.close();
    await expect(c.exec(['true'])).rejects.toThrow(/is closed/);
  });
});
