/** Host key checking, authentication and sudo refusal, against real sshd. */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionError, HostKeyError } from '../../src/errors.js';
import { connectSsh } from '../../src/transport/ssh.js';
import { startTestFleet } from '../support/sshd-fleet.js';
import type { TestFleet } from '../support/sshd-fleet.js';

const NOPW_USER = 'fleetplay-nopw';
let tf: TestFleet;
let hostFp: string;

function keygen(file: string, passphrase = ''): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-f', file]);
}

async function failure(p: Promise<unknown>): Promise<Error> {
  const e = await p.then(() => null, (x: unknown) => x);
  if (!(e instanceof Error)) throw new Error('expected a failure');
  return e;
}

beforeAll(async () => {
  tf = await startTestFleet(['web1', 'web2']);
  hostFp = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', join(tf.fleet.dir, 'ssh_host_ed25519_key.pub')], { encoding: 'utf8' }).split(/\s+/)[1] ?? '';
});
afterAll(async () => {
  await tf?.dispose();
});

describe('host keys', () => {
  it('refuses an unknown host key and names its fingerprint', async () => {
    const kh = join(tf.fleet.dir, 'kh-empty');
    writeFileSync(kh, '');
    const e = await failure(connectSsh(tf.spec('web1', { knownHostsFile: kh })));
    expect(e).toBeInstanceOf(HostKeyError);
    expect(e.message).toContain(hostFp);
    expect(readFileSync(kh, 'utf8')).toBe('');
  });

  it('accepts and records an unknown key when opted in; ssh then agrees', async () => {
    const kh = join(tf.fleet.dir, 'kh-new');
    const h = tf.hosts[0]!;
    const c = await connectSsh(tf.spec('web1', { knownHostsFile: kh, acceptUnknownHostKey: true }));
    expect((await c.exec(['echo', 'ok'])).stdout).toBe('ok\n');
    await c.close();
    expect(readFileSync(kh, 'utf8')).toBe(`[${h.address}]:${h.port} ${tf.fleet.hostPublicKey}\n`);
    const again = await connectSsh(tf.spec('web1', { knownHostsFile: kh }));
    await again.close();
    const out = execFileSync('ssh', ['-i', tf.fleet.clientKeyFile, '-o', `UserKnownHostsFile=${kh}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-p', String(h.port), `root@${h.address}`, 'echo', 'via-openssh'], { encoding: 'utf8' });
    expect(out).toBe('via-openssh\n');
  });

  it('refuses a changed key even when unknown keys are accepted, with the line to remove', async () => {
    const other = join(tf.fleet.dir, 'other_host_key');
    keygen(other);
    const h = tf.hosts[1]!;
    const kh = join(tf.fleet.dir, 'kh-changed');
    const otherPub = readFileSync(`${other}.pub`, 'utf8').split(/\s+/).slice(0, 2).join(' ');
    writeFileSync(kh, `# fleet\n[${h.address}]:${h.port} ${otherPub}\n`);
    const e = await failure(connectSsh(tf.spec('web2', { knownHostsFile: kh, acceptUnknownHostKey: true })));
    expect(e).toBeInstanceOf(HostKeyError);
    expect(e.message).toContain('CHANGED');
    expect(e.message).toContain(hostFp);
    expect(e.message).toContain(`${kh}:2`);
    expect((e as HostKeyError).hint).toContain(`ssh-keygen -R '[${h.address}]:${h.port}'`);
    expect(readFileSync(kh, 'utf8')).toBe(`# fleet\n[${h.address}]:${h.port} ${otherPub}\n`);
  });

  it('matches hashed known_hosts entries', async () => {
    const kh = join(tf.fleet.dir, 'kh-hashed');
    writeFileSync(kh, readFileSync(tf.fleet.knownHostsFile));
    execFileSync('ssh-keygen', ['-H', '-f', kh], { stdio: 'ignore' });
    expect(readFileSync(kh, 'utf8')).not.toContain(tf.hosts[0]!.address);
    const c = await connectSsh(tf.spec('web1', { knownHostsFile: kh }));
    await c.close();
  });
});

describe('authentication', () => {
  it('fails with user@host:port and what was tried, never the secret', async () => {
    const key = join(tf.fleet.dir, 'stranger');
    keygen(key, 'correct horse battery');
    process.env.FP_TEST_PASSPHRASE = 'correct horse battery';
    const h = tf.hosts[0]!;
    const e = await failure(connectSsh(tf.spec('web1', { privateKeyFile: key, privateKeyPassphraseEnv: 'FP_TEST_PASSPHRASE' })));
    expect(e).toBeInstanceOf(ConnectionError);
    expect(e.message).toBe(`authentication failed for root@${h.address}:${h.port} (tried: key ${key})`);
    process.env.FP_TEST_PASSPHRASE = 'Xq9-not-it';
    const e2 = await failure(connectSsh(tf.spec('web1', { privateKeyFile: key, privateKeyPassphraseEnv: 'FP_TEST_PASSPHRASE' })));
    expect(e2.message).toMatch(/encrypted and the passphrase is missing or wrong/);
    for (const m of [e, e2].map((x) => `${(x as ConnectionError).userMessage()} ${String(x.cause)}`)) {
      expect(m).not.toContain('correct horse');
      expect(m).not.toContain('Xq9-not-it');
    }
    delete process.env.FP_TEST_PASSPHRASE;
  });

  describe('ssh-agent', () => {
    let agent: ChildProcess | undefined;
    afterAll(() => {
      if (agent?.pid !== undefined) process.kill(agent.pid);
    });
    it('logs in with a key held by ssh-agent', async () => {
      const sock = join(tf.fleet.dir, 'agent.sock');
      agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
      for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 20));
      execFileSync('ssh-add', ['-q', tf.fleet.clientKeyFile], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: 'ignore' });
      const saved = process.env.SSH_AUTH_SOCK;
      process.env.SSH_AUTH_SOCK = sock;
      try {
        const c = await connectSsh(tf.spec('web1', { privateKeyFile: undefined, useAgent: true }));
        expect((await c.exec(['id', '-un'])).stdout).toBe('root\n');
        await c.close();
      } finally {
        if (saved === undefined) delete process.env.SSH_AUTH_SOCK;
        else process.env.SSH_AUTH_SOCK = saved;
      }
    });
  });
});

describe('sudo without NOPASSWD', () => {
  beforeAll(() => {
    // A login user with no password and no sudoers rule, so that sudo -n must refuse.
    const known = readFileSync('/etc/passwd', 'utf8').split('\n').some((l) => l.startsWith(`${NOPW_USER}:`));
    if (!known) execFileSync('useradd', ['--system', '--no-create-home', '--home-dir', '/', '--shell', '/bin/sh', NOPW_USER]);
    execFileSync('usermod', ['-p', '*', NOPW_USER]);
  });

  it('says sudo asks for a password and how to fix it', async () => {
    const c = await connectSsh(tf.spec('web1', { user: NOPW_USER, become: true, becomeUser: 'root' }));
    try {
      expect((await c.exec(['id', '-un'], { become: false })).stdout).toBe(`${NOPW_USER}\n`);
      const e = await failure(c.exec(['id', '-un']));
      expect(e).toBeInstanceOf(ConnectionError);
      expect(e.message).toContain(`sudo on web1 asks for a password; fleetplay uses sudo -n: give ${NOPW_USER} NOPASSWD`);
      await expect(c.readFile('/etc/shadow')).rejects.toThrow(/asks for a password/);
    } finally {
      await c.close();
    }
  });
});
