/**
 * Edge cases of the SSH transport against real sshd, beyond transport-ssh.test.ts: cancellation,
 * exact modes past the server's umask, failed chown cleanup, become writes refused, stat of a
 * directory, auth failures that must not leak the key, use of a connection after the host drops,
 * and the runner's applySteps driving a real connection.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionError, HostKeyError, TaskError } from '../../src/errors.js';
import { applySteps } from '../../src/runner/apply.js';
import { connectSsh } from '../../src/transport/ssh.js';
import type { Connection } from '../../src/transport/types.js';
import { startTestFleet } from '../support/sshd-fleet.js';
import type { TestFleet } from '../support/sshd-fleet.js';

let tf: TestFleet;
let conn: Connection;
let root: string;
const pg = { uid: Number(execFileSync('id', ['-u', 'postgres']).toString()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString()) };
const noTemps = (dir: string): string[] => readdirSync(dir).filter((f) => f.includes('fleetplay'));

beforeAll(async () => {
  tf = await startTestFleet(['edge1', 'edge2']);
  conn = await connectSsh(tf.spec('edge1'));
  root = tf.hosts[0]!.root;
});

afterAll(async () => {
  await conn?.close();
  await tf?.dispose();
});

describe('exec edges', () => {
  it('reports a missing command as exit 127, and a leading-dash command stays one word', async () => {
    expect((await conn.exec(['no-such-command-fleetplay'])).exitCode).toBe(127);
    expect((await conn.exec(['-n'])).exitCode).toBe(127);
  });

  it('cancels on an AbortSignal, already aborted or mid-command', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    const t0 = Date.now();
    await expect(conn.exec(['sleep', '5'], { signal: ac.signal })).rejects.toThrow(/cancelled/);
    expect(Date.now() - t0).toBeLessThan(3000);
    await expect(conn.exec(['true'], { signal: ac.signal })).rejects.toThrow(ConnectionError);
    expect((await conn.exec(['echo', 'ok'])).stdout).toBe('ok\n');
  });

  it('keeps env values as data', async () => {
    const r = await conn.exec(['sh', '-c', 'printf %s "$FOO"'], { env: { FOO: "a 'b' $(c) `d`" } });
    expect(r.stdout).toBe("a 'b' $(c) `d`");
  });
});

describe('memory', () => {
  it('does not keep command output alive after the call returns', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const buffers = (): number => {
      gc();
      gc();
      return process.memoryUsage().arrayBuffers;
    };
    const before = buffers();
    for (let i = 0; i < 40; i++) {
      await Promise.all(Array.from({ length: 8 }, () => conn.exec(['head', '-c', '100000', '/dev/zero'])));
      await conn.readFile('/etc/passwd');
    }
    // 320 x 100 KB went through; a retained result per call would leave ~32 MB behind
    expect(buffers() - before).toBeLessThan(8_000_000);
  });
});

describe('file edges (SFTP)', () => {
  it('sets a mode wider than the server umask exactly, and binary content intact', async () => {
    const p = join(root, 'group-writable');
    await conn.writeFileAtomic(p, Buffer.from([0, 1, 2, 255]), { mode: 0o664 });
    expect(statSync(p).mode & 0o7777).toBe(0o664);
    expect([...readFileSync(p)]).toEqual([0, 1, 2, 255]);
    await conn.writeFileAtomic(p, 'narrowed', { mode: 0o600 });
    expect(statSync(p).mode & 0o7777).toBe(0o600);
  });

  it('a failed chown leaves neither the target nor a temp file', async () => {
    const p = join(root, 'bad-owner');
    await expect(conn.writeFileAtomic(p, 'x', { mode: 0o600, owner: 'no-such-user-fp' })).rejects.toThrow(TaskError);
    expect(existsSync(p)).toBe(false);
    expect(noTemps(root)).toEqual([]);
  });

  it('stats a directory and a symlink without following it', async () => {
    expect(await conn.stat(root)).toMatchObject({ type: 'directory', owner: 'root', group: 'root', uid: 0, gid: 0 });
    const real = join(root, 'real.txt');
    writeFileSync(real, 'original');
    symlinkSync(real, join(root, 'ln'));
    expect((await conn.stat(join(root, 'ln')))?.type).toBe('symlink');
    expect((await conn.readFile(join(root, 'ln')))?.toString()).toBe('original');
    symlinkSync(join(root, 'gone'), join(root, 'dangling'));
    expect((await conn.stat(join(root, 'dangling')))?.type).toBe('symlink');
    expect(await conn.readFile(join(root, 'dangling'))).toBeNull();
  });
});

describe('become edges', () => {
  let asPg: Connection;
  let pgDir: string;

  beforeAll(async () => {
    asPg = await connectSsh(tf.spec('edge1', { become: true, becomeUser: 'postgres' }));
    pgDir = join(root, 'pgdata');
    mkdirSync(pgDir, { recursive: true, mode: 0o700 });
    chownSync(pgDir, pg.uid, pg.gid);
  });
  afterAll(async () => {
    await asPg?.close();
  });

  it('become: false runs as the login user; becomeUser overrides per command', async () => {
    expect((await asPg.exec(['id', '-un'], { become: false })).stdout).toBe('root\n');
    expect((await conn.exec(['id', '-un'], { becomeUser: 'postgres' })).stdout).toBe('postgres\n');
  });

  it('kills a timed-out or cancelled command on the host, also under sudo', async () => {
    // each command would leave a file behind if it lived past its timeout
    const late = (dir: string, name: string): string[] => ['sh', '-c', 'sleep 1.5; touch "$1"', 'sh', join(dir, name)];
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const runs = [
      conn.exec(late(root, 'survived-timeout'), { timeoutMs: 300 }),
      conn.exec(late(root, 'survived-cancel'), { signal: ac.signal }),
      asPg.exec(late(pgDir, 'survived-sudo'), { timeoutMs: 300 }),
      asPg.exec(['sleep', '1.5', ';', 'x'], { timeoutMs: 1 }), // timeout before the PID arrives
    ];
    const settled = await Promise.allSettled(runs);
    expect(settled.map((r) => (r.status === 'rejected' ? (r.reason as Error).constructor.name : 'fulfilled'))).toEqual(Array(4).fill('ConnectionError'));
    await new Promise((r) => setTimeout(r, 2000));
    expect(existsSync(join(root, 'survived-timeout'))).toBe(false);
    expect(existsSync(join(root, 'survived-cancel'))).toBe(false);
    expect(existsSync(join(pgDir, 'survived-sudo'))).toBe(false);
    // and stderr of ordinary commands carries nothing of the mechanism
    expect((await asPg.exec(['sh', '-c', 'echo e >&2'])).stderr).toBe('e\n');
  });

  it('keeps cwd + env + hostile values literal through sudo sh -c', async () => {
    const r = await asPg.exec(['sh', '-c', 'printf "%s|%s" "$PWD" "$X"'], { cwd: pgDir, env: { X: '$(touch PWNED); `touch PWNED`' } });
    expect(r.stdout).toBe(`${pgDir}|$(touch PWNED); \`touch PWNED\``);
    expect(existsSync(join(pgDir, 'PWNED'))).toBe(false);
  });

  it('writes as the become user, replaces a symlink, and reads back', async () => {
    const p = join(pgDir, 'server.key');
    await asPg.writeFileAtomic(p, 'PG KEY\n', { mode: 0o600 });
    const st = statSync(p);
    expect([st.uid, st.mode & 0o7777]).toEqual([pg.uid, 0o600]);
    expect(await asPg.stat(p)).toMatchObject({ type: 'file', owner: 'postgres', mode: 0o600, size: 7 });
    const link = join(pgDir, 'link');
    symlinkSync(p, link);
    await asPg.writeFileAtomic(link, 'new', { mode: 0o640 });
    expect(lstatSync(link).isFile()).toBe(true);
    expect(readFileSync(p, 'utf8')).toBe('PG KEY\n');
    expect(await asPg.readFile(join(pgDir, 'missing'))).toBeNull();
    expect(noTemps(pgDir)).toEqual([]);
  });

  it('refuses a write where the become user may not, with a TaskError and no leftovers', async () => {
    await expect(asPg.writeFileAtomic(join(root, 'nope'), 'x', { mode: 0o600 })).rejects.toThrow(TaskError);
    expect(existsSync(join(root, 'nope'))).toBe(false);
    expect(noTemps(root)).toEqual([]);
  });
});

describe('runner steps over a real connection', () => {
  it('applySteps writes, backs up, renames and verifies on the host', async () => {
    const p = join(root, 'app.conf');
    writeFileSync(p, 'old\n');
    const captures = new Map<string, string>();
    const api = { conn, connectionFor: async () => conn, captures, signal: new AbortController().signal, addSecret: () => undefined };
    await applySteps(
      [
        { kind: 'backup', path: p, to: join(root, 'backup', 'app.conf') },
        { kind: 'exec', argv: ['printf', '%s', 'new; $(x)\n'], capture: 'c' },
        { kind: 'write', path: p, contentFrom: 'c', mode: 0o640, owner: 'postgres' },
      ],
      api,
    );
    expect(readFileSync(p, 'utf8')).toBe('new; $(x)\n');
    expect(statSync(p).uid).toBe(pg.uid);
    expect(readFileSync(join(root, 'backup', 'app.conf'), 'utf8')).toBe('old\n');
  });
});

describe('connection failures', () => {
  it('names user@host:port and the key file on auth failure, never the key', async () => {
    const keyFile = join(tf.fleet.dir, 'stranger_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile]);
    const h = tf.hosts[1]!;
    const err = await connectSsh(tf.spec('edge2', { privateKeyFile: keyFile })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    const msg = (err as ConnectionError).userMessage();
    expect(msg).toContain(`root@${h.address}:${h.port}`);
    expect(msg).toContain(keyFile);
    const keyBody = readFileSync(keyFile, 'utf8').split('\n')[1]!;
    expect(msg).not.toContain(keyBody);
  });

  it('records an accepted host key in a known_hosts whose directory does not exist yet', async () => {
    const file = join(tf.fleet.dir, 'fresh-home', '.ssh', 'known_hosts');
    const c = await connectSsh(tf.spec('edge2', { knownHostsFile: file, acceptUnknownHostKey: true }));
    await c.close();
    const h = tf.hosts[1]!;
    expect(readFileSync(file, 'utf8')).toMatch(new RegExp(`^\\[${h.address.replace(/\./g, '\\.')}\\]:${h.port} ssh-ed25519 `));
    expect(statSync(join(tf.fleet.dir, 'fresh-home', '.ssh')).mode & 0o777).toBe(0o700);
    // and the next connection, without the opt-in, knows the host
    const again = await connectSsh(tf.spec('edge2', { knownHostsFile: file }));
    await again.close();
  });

  it('an unreadable known_hosts is a HostKeyError, not a crash', async () => {
    const err = await connectSsh(tf.spec('edge2', { knownHostsFile: tf.fleet.dir })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HostKeyError);
    expect((err as HostKeyError).userMessage()).toContain(tf.fleet.dir);
  });

  it('a missing passphrase variable is a ConnectionError before any network traffic', async () => {
    const err = await connectSsh(tf.spec('edge2', { privateKeyPassphraseEnv: 'FLEETPLAY_NO_SUCH_VAR' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as Error).message).toContain('FLEETPLAY_NO_SUCH_VAR');
  });

  it('every kind of call fails with "lost" after the host drops', async () => {
    const c = await connectSsh(tf.spec('edge2'));
    try {
      expect(await c.stat('/')).not.toBeNull(); // SFTP session is open
      await tf.fleet.stopHost('edge2');
      await new Promise((r) => setTimeout(r, 200));
      await expect(c.exec(['true'])).rejects.toThrow(/lost/);
      await expect(c.stat('/')).rejects.toThrow(ConnectionError);
      await expect(c.readFile('/etc/hostname')).rejects.toThrow(ConnectionError);
      await expect(c.writeFileAtomic(join(root, 'x'), 'x', { mode: 0o600 })).rejects.toThrow(ConnectionError);
      await expect(c.forwardTcp('127.0.0.1', 1)).rejects.toThrow(ConnectionError);
    } finally {
      await tf.fleet.startHost('edge2');
      await c.close();
    }
  });
});
