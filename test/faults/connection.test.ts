/**
 * Network faults on real sshd: the connection cut mid-SFTP upload and mid-remote command, sshd
 * stopped between two tasks, and hosts that refuse or never answer. Each test checks the report
 * names every host's state, the journal parses, and `rollback <id>` restores every host exactly.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { faultPlaybook } from './playbooks.js';
import { expectJournalParses, expectRollbackRestores, startFaultEnv, statesOf, waitFor } from './support.js';
import type { FaultEnv } from './support.js';

let env: FaultEnv;

beforeAll(async () => {
  env = await startFaultEnv(['h1', 'h2', 'h3']);
}, 120_000);
afterAll(async () => {
  await env?.dispose();
});
beforeEach(async () => {
  for (const n of env.names) {
    await env.tf.fleet.startHost(n).catch(() => undefined);
    rmSync(join(env.root(n), 'step-started'), { force: true });
  }
  env.seed();
});

describe('connection faults', () => {
  it('connection cut in the middle of an SFTP upload: the host is reported unknown, rollback restores it and removes the partial temp file', async () => {
    const blob = join(env.work, 'blob.bin');
    writeFileSync(blob, randomBytes(4 * 1024 * 1024));
    const before = env.snap();
    const pb = env.writePlaybook('sftp-cut.yaml', faultPlaybook({ blob }));
    const json = join(env.work, 'sftp-cut.json');
    const running = env.cli(['run', pb, '-i', env.inventory, '--plain', '--json', json]);
    const appDir = join(env.root('h2'), 'etc', 'app');
    await waitFor('the upload temp file on h2', () => readdirSync(appDir).some((f) => /^\.blob\.bin\.fleetplay-.*\.tmp$/.test(f)), 60_000, 1);
    await env.tf.fleet.stopHost('h2');
    const r = await running;
    expect(r.code, r.stdout + r.stderr).toBe(2);
    const rep = env.report(json);
    expect(statesOf(rep)).toEqual({ h1: 'changed', h2: 'rollback-failed', h3: 'changed' });
    expect(rep.results.find((x) => x.host === 'h2' && x.task === 'big blob')?.status).toBe('unreachable');
    expectJournalParses(env.home, rep.runId);
    // the cut left the half-written temp file; rollback must remove it (the snapshot compares all files)
    expect(readdirSync(appDir).filter((f) => f.startsWith('.blob.bin.')).length).toBe(1);
    await env.tf.fleet.startHost('h2');
    await expectRollbackRestores(env, rep.runId, before);
  });

  it('connection cut in the middle of a remote command', async () => {
    const before = env.snap();
    const pb = env.writePlaybook('cmd-cut.yaml', faultPlaybook({ sleep: 5 }));
    const json = join(env.work, 'cmd-cut.json');
    const running = env.cli(['run', pb, '-i', env.inventory, '--plain', '--json', json]);
    await waitFor('the slow step on h2', () => existsSync(join(env.root('h2'), 'step-started')));
    await env.tf.fleet.stopHost('h2');
    const r = await running;
    expect(r.code, r.stdout + r.stderr).toBe(2);
    const rep = env.report(json);
    expect(statesOf(rep)).toEqual({ h1: 'changed', h2: 'rollback-failed', h3: 'changed' });
    expect(rep.hosts.find((h) => h.host === 'h2')?.error ?? '').toMatch(/lost|refused|cannot connect/);
    await env.tf.fleet.startHost('h2');
    await expectRollbackRestores(env, rep.runId, before);
  });

  it('sshd stopped between two tasks: the next task finds the host unreachable', async () => {
    const before = env.snap();
    // h2 skips the slow step; while h1 and h3 sleep in it, h2's connection is idle: stop its sshd.
    const pb = env.writePlaybook('between.yaml', faultPlaybook({ sleep: 3, sleepWhen: "inventory_hostname != 'h2'" }));
    const json = join(env.work, 'between.json');
    const running = env.cli(['run', pb, '-i', env.inventory, '--plain', '--json', json]);
    await waitFor('the slow step on h1', () => existsSync(join(env.root('h1'), 'step-started')));
    await env.tf.fleet.stopHost('h2');
    const r = await running;
    expect(r.code, r.stdout + r.stderr).toBe(2);
    const rep = env.report(json);
    expect(statesOf(rep)).toEqual({ h1: 'changed', h2: 'rollback-failed', h3: 'changed' });
    expect(rep.results.find((x) => x.host === 'h2' && x.task === 'health check')?.status).toBe('unreachable');
    await env.tf.fleet.startHost('h2');
    await expectRollbackRestores(env, rep.runId, before);
  });

  it('a host that never answers times out, one that refuses fails fast; the others complete', async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const silentPort = (silent.address() as { port: number }).port;
    const refused: Server = createServer();
    await new Promise<void>((r) => refused.listen(0, '127.0.0.1', () => r()));
    const refusedPort = (refused.address() as { port: number }).port;
    await new Promise<void>((r) => refused.close(() => r()));
    try {
      const inv = join(env.work, 'inv-dead.yaml');
      const live = env.tf.hosts.filter((h) => h.name !== 'h2');
      const line = (name: string, addr: string, port: number, root: string) =>
        `        ${name}:\n          ansible_host: ${addr}\n          ansible_port: ${port}\n          root: ${root}\n          fleetplay_backup_dir: ${root}/backups`;
      writeFileSync(
        inv,
        `all:\n  vars:\n    ansible_user: root\n    ansible_ssh_private_key_file: ${env.tf.fleet.clientKeyFile}\n    fleetplay_known_hosts_file: ${env.tf.fleet.knownHostsFile}\n  children:\n    web:\n      hosts:\n${[
          ...live.map((h) => line(h.name, h.address, h.port, h.root)),
          line('silent', '127.0.0.1', silentPort, join(env.work, 'silent')),
          line('refusing', '127.0.0.1', refusedPort, join(env.work, 'refusing')),
        ].join('\n')}\n`,
      );
      const before = env.snap();
      const pb = env.writePlaybook('dead.yaml', faultPlaybook({}));
      const json = join(env.work, 'dead.json');
      const t0 = Date.now();
      const r = await env.cli(['run', pb, '-i', inv, '--plain', '--json', json, '-T', '2']);
      expect(Date.now() - t0).toBeLessThan(30_000);
      expect(r.code, r.stdout + r.stderr).toBe(3);
      const rep = env.report(json);
      expect(statesOf(rep)).toEqual({ h1: 'changed', h3: 'changed', silent: 'unreachable', refusing: 'unreachable' });
      expect(rep.hosts.find((h) => h.host === 'silent')?.error).toMatch(/timed out after 2000ms/);
      expect(rep.hosts.find((h) => h.host === 'refusing')?.error).toMatch(/refused/);
      expect(sockets.length).toBeGreaterThan(0);
      expect(env.snap().h2).toEqual(before.h2);
      const rb = await env.cli(['rollback', rep.runId, '-i', env.inventory]);
      expect(rb.code, rb.stdout + rb.stderr).toBe(0);
      expect(env.snap()).toEqual(before);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });
});
