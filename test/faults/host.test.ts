/**
 * Faults on the host itself: a full file system (a 128k tmpfs), a read-only directory (a read-only
 * bind mount), sudo that asks for a password, and a login whose startup files print text (sshd runs
 * ~/.ssh/rc and its output lands in every session). The failing host is rolled back (or left
 * untouched), the others complete, and `rollback <id>` restores every host exactly.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { faultPlaybook } from './playbooks.js';
import { expectRollbackRestores, startFaultEnv, statesOf } from './support.js';
import type { FaultEnv } from './support.js';

const NOPW_USER = 'fleetplay-nopw';
const CHATTY_USER = 'fleetplay-chatty';
let env: FaultEnv;
let chattyHome: string;
const mounts: string[] = [];

function ensureUser(name: string, home: string, shell: string): void {
  const known = readFileSync('/etc/passwd', 'utf8').split('\n').some((l) => l.startsWith(`${name}:`));
  if (!known) execFileSync('useradd', ['--system', '--no-create-home', '--home-dir', home, '--shell', shell, name]);
  else execFileSync('usermod', ['--home', home, '--shell', shell, name]);
  execFileSync('usermod', ['-p', '*', name]);
}

beforeAll(async () => {
  chattyHome = join('/tmp', `fleetplay-chatty-${process.pid}`);
  ensureUser(NOPW_USER, '/', '/bin/sh');
  ensureUser(CHATTY_USER, chattyHome, '/bin/bash');
  env = await startFaultEnv(['h1', 'h2', 'h3']);
}, 120_000);
afterAll(async () => {
  for (const m of mounts.splice(0)) execFileSync('umount', ['-l', m]);
  await env?.dispose();
  rmSync(chattyHome, { recursive: true, force: true });
});
beforeEach(() => env.seed());
afterEach(() => {
  for (const m of mounts.splice(0)) execFileSync('umount', ['-l', m]);
});

/** Make h2's etc/app a tmpfs of `size`, holding the seeded files, with `freeKb` left (about). */
function tmpfsApp(size: string, fill: number): string {
  const app = join(env.root('h2'), 'etc', 'app');
  const saved = join(env.work, 'saved-app');
  rmSync(saved, { recursive: true, force: true });
  execFileSync('cp', ['-a', app, saved]);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', app]);
  mounts.push(app);
  execFileSync('cp', ['-a', `${saved}/.`, app]);
  if (fill > 0) writeFileSync(join(app, 'filler'), randomBytes(fill));
  return app;
}

describe('host faults', () => {
  it('a full file system: the write fails cleanly, the host is rolled back, the others complete', async () => {
    tmpfsApp('128k', 64 * 1024);
    const blob = join(env.work, 'blob64k.bin');
    writeFileSync(blob, randomBytes(96 * 1024));
    const before = env.snap();
    const pb = env.writePlaybook('full.yaml', faultPlaybook({ blob }));
    const json = join(env.work, 'full.json');
    const r = await env.cli(['run', pb, '-i', env.inventory, '--plain', '--json', json]);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    const rep = env.report(json);
    expect(statesOf(rep)).toEqual({ h1: 'changed', h2: 'rolled-back', h3: 'changed' });
    expect(rep.results.find((x) => x.host === 'h2' && x.task === 'big blob')?.status).toBe('failed');
    expect(env.snap().h2).toEqual(before.h2);
    await expectRollbackRestores(env, rep.runId, before);
  });

  it('a read-only directory: the first write fails, nothing is left changed on that host', async () => {
    const app = join(env.root('h2'), 'etc', 'app');
    execFileSync('mount', ['--bind', app, app]);
    mounts.push(app);
    execFileSync('mount', ['-o', 'remount,bind,ro', app]);
    const before = env.snap();
    const pb = env.writePlaybook('ro.yaml', faultPlaybook({}));
    const json = join(env.work, 'ro.json');
    const r = await env.cli(['run', pb, '-i', env.inventory, '--plain', '--json', json]);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    const rep = env.report(json);
    expect(statesOf(rep)).toEqual({ h1: 'changed', h2: 'rolled-back', h3: 'changed' });
    expect(rep.hosts.find((h) => h.host === 'h2')?.error).toContain('app.conf');
    expect(env.snap().h2).toEqual(before.h2);
    await expectRollbackRestores(env, rep.runId, before);
  });

  it('sudo that asks for a password: the host fails before any change, with the fix', async () => {
    const inv = join(env.work, 'inv-sudo.yaml');
    writeFileSync(inv, readFileSync(env.inventory, 'utf8').replace(/(\n {8}h2:\n)/, `$1          ansible_user: ${NOPW_USER}\n          ansible_become: true\n`));
    const before = env.snap();
    const pb = env.writePlaybook('sudo.yaml', faultPlaybook({}));
    const json = join(env.work, 'sudo.json');
    const r = await env.cli(['run', pb, '-i', inv, '--plain', '--json', json]);
    expect(r.code).not.toBe(0);
    const rep = env.report(json);
    expect(statesOf(rep)).toMatchObject({ h1: 'changed', h3: 'changed' });
    expect(['unreachable', 'failed']).toContain(statesOf(rep).h2);
    expect(rep.hosts.find((h) => h.host === 'h2')?.error).toMatch(/sudo on h2 asks for a password.*NOPASSWD/s);
    expect(env.snap().h2).toEqual(before.h2);
    await expectRollbackRestores(env, rep.runId, before);
  });

  it('a login whose startup files print text: commands, SFTP and the run work, and rollback restores', async () => {
    mkdirSync(join(chattyHome, '.ssh'), { recursive: true });
    writeFileSync(join(chattyHome, '.ssh', 'rc'), 'echo "Welcome to h2! (from ~/.ssh/rc)"\necho "rc noise on stderr" >&2\n');
    writeFileSync(join(chattyHome, '.bashrc'), 'echo "bashrc says hello"\n');
    writeFileSync(join(chattyHome, '.bash_profile'), 'echo "profile says hello"\n');
    execFileSync('chown', ['-R', CHATTY_USER, chattyHome]);
    execFileSync('chown', ['-R', `${CHATTY_USER}:`, env.root('h2')]);
    chmodSync(env.root('h2'), 0o755);
    rmSync(join(env.root('h2'), 'backups'), { recursive: true, force: true });
    const inv = join(env.work, 'inv-chatty.yaml');
    writeFileSync(inv, readFileSync(env.inventory, 'utf8').replace(/(\n {8}h2:\n)/, `$1          ansible_user: ${CHATTY_USER}\n`));
    const before = env.snap();
    const pb = env.writePlaybook('chatty.yaml', faultPlaybook({}));
    const json = join(env.work, 'chatty.json');
    try {
      const r = await env.cli(['run', pb, '-i', inv, '--plain', '--json', json]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const rep = env.report(json);
      expect(statesOf(rep)).toEqual({ h1: 'changed', h2: 'changed', h3: 'changed' });
      expect(readFileSync(join(env.root('h2'), 'etc/app/extra.conf'), 'utf8')).toBe('a=1\nb=2\n');
      expect(readFileSync(join(env.root('h2'), 'etc/app/server.key'), 'utf8')).toBe('NEW KEY BYTES for h2\n');
      const rb = await env.cli(['rollback', rep.runId, '-i', inv]);
      expect(rb.code, rb.stdout + rb.stderr).toBe(0);
      expect(env.snap()).toEqual(before);
    } finally {
      execFileSync('chown', ['-R', 'root:root', env.root('h2')]);
    }
  });
});
