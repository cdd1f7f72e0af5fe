/**
 * The runner over real sshd: check changes nothing and predicts the run; a rerun changes nothing;
 * a failure in task 5 of 8 rolls that host back byte for byte; a threshold breach rolls back the
 * whole play; SIGKILL of the controller mid-run, then `rollback <id>`, restores every host.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestFleet } from '../support/sshd-fleet.js';
import type { TestFleet } from '../support/sshd-fleet.js';
import { snapshotTree } from '../support/snapshot.js';
import type { Snapshot } from '../support/snapshot.js';

const NAMES = ['h1', 'h2', 'h3'];
let fleet: TestFleet;
let work: string;
let inventory: string;

function hostRoot(name: string): string {
  const h = fleet.hosts.find((x) => x.name === name);
  if (!h) throw new Error(name);
  return h.root;
}

/** Every host starts with an existing app.conf (0640), extra.conf (0600) and nothing the playbook creates. */
function seedHosts(): void {
  for (const n of NAMES) {
    const dir = join(hostRoot(n), 'etc', 'app');
    rmSync(join(dir, 'conf.d'), { recursive: true, force: true });
    for (const f of ['secret.key', 'second.conf']) rmSync(join(dir, f), { force: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'app.conf'), `# managed\nold=1\nhost=${n}\n`);
    chmodSync(join(dir, 'app.conf'), 0o640);
    writeFileSync(join(dir, 'extra.conf'), 'a=1\n');
    chmodSync(join(dir, 'extra.conf'), 0o600);
  }
}

function snapAll(): Record<string, Snapshot> {
  return Object.fromEntries(NAMES.map((n) => [n, snapshotTree(join(hostRoot(n), 'etc'))]));
}

function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string; pid: number }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/cli.ts', ...args], {
      env: { ...process.env, FLEETPLAY_HOME: join(work, '.fleetplay'), ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr, pid: child.pid ?? 0 }));
  });
}

const PLAYBOOK = (opts: { failOn?: string; maxFail?: number; sleep?: number }) => `
- name: configure the app
  hosts: web
${opts.maxFail !== undefined ? `  max_fail_percentage: ${opts.maxFail}\n` : ''}  tasks:
    - name: app directory
      file:
        path: "{{ root }}/etc/app"
        state: directory
        mode: '0755'
    - name: app.conf content
      copy:
        dest: "{{ root }}/etc/app/app.conf"
        content: "# managed\\nnew=2\\nhost={{ inventory_hostname }}\\n"
        mode: '0644'
    - name: a setting
      lineinfile:
        path: "{{ root }}/etc/app/extra.conf"
        regexp: '^b='
        line: "b=2"
    - name: the key
      copy:
        dest: "{{ root }}/etc/app/secret.key"
        content: "not really a key"
        mode: '0600'
    - name: health gate
      command:
        argv: [sh, -c, 'sleep ${opts.sleep ?? 0}; test "$0" != "${opts.failOn ?? 'none'}"', "{{ inventory_hostname }}"]
    - name: second file
      copy:
        dest: "{{ root }}/etc/app/second.conf"
        content: "second\\n"
        mode: '0644'
    - name: a directory
      file:
        path: "{{ root }}/etc/app/conf.d"
        state: directory
        mode: '0750'
    - name: third file
      copy:
        dest: "{{ root }}/etc/app/conf.d/third.conf"
        content: "third\\n"
        mode: '0640'
`;

function writePlaybook(name: string, text: string): string {
  const p = join(work, name);
  writeFileSync(p, text);
  return p;
}

function readReport(file: string): { results: Array<{ host: string; task: string; status: string }>; hosts: Array<{ host: string; state: string }>; runId: string } {
  return JSON.parse(readFileSync(file, 'utf8'));
}

beforeAll(async () => {
  fleet = await startTestFleet(NAMES);
  work = mkdtempSync(join(tmpdir(), 'fleetplay-runner-'));
  const hosts = fleet.hosts
    .map((h) => `        ${h.name}:\n          ansible_host: ${h.address}\n          ansible_port: ${h.port}\n          root: ${h.root}\n          fleetplay_backup_dir: ${h.root}/backups`)
    .join('\n');
  inventory = join(work, 'inventory.yaml');
  writeFileSync(
    inventory,
    `all:\n  vars:\n    ansible_user: root\n    ansible_ssh_private_key_file: ${fleet.fleet.clientKeyFile}\n    fleetplay_known_hosts_file: ${fleet.fleet.knownHostsFile}\n  children:\n    web:\n      hosts:\n${hosts}\n`,
  );
}, 120_000);

afterAll(async () => {
  await fleet?.dispose();
});

describe('runner over real sshd', () => {
  it('check changes nothing and lists exactly what run changes; a rerun changes nothing', async () => {
    seedHosts();
    const pb = writePlaybook('ok.yaml', PLAYBOOK({}));
    const before = snapAll();
    const check = await runCli(['check', pb, '-i', inventory, '--plain', '--json', join(work, 'check.json')]);
    expect(check.stderr).toBe('');
    expect(check.code).toBe(0);
    expect(snapAll()).toEqual(before);

    const run = await runCli(['run', pb, '-i', inventory, '--plain', '--json', join(work, 'run.json')]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const changedIn = (f: string) =>
      readReport(join(work, f))
        .results.filter((r) => r.status === 'changed')
        .map((r) => `${r.host}/${r.task}`)
        .sort();
    expect(changedIn('check.json')).toEqual(changedIn('run.json'));
    expect(readFileSync(join(hostRoot('h1'), 'etc/app/app.conf'), 'utf8')).toBe('# managed\nnew=2\nhost=h1\n');
    expect(readFileSync(join(hostRoot('h1'), 'etc/app/extra.conf'), 'utf8')).toBe('a=1\nb=2\n');

    const rerun = await runCli(['run', pb, '-i', inventory, '--plain', '--json', join(work, 'rerun.json')]);
    expect(rerun.code).toBe(0);
    const again = readReport(join(work, 'rerun.json'));
    expect(again.results.filter((r) => r.status === 'changed' && r.task !== 'health gate')).toEqual([]);
  });

  it('a failure in task 5 of 8 rolls that host back byte for byte; the others finish', async () => {
    seedHosts();
    const before = snapAll();
    const pb = writePlaybook('fail-h2.yaml', PLAYBOOK({ failOn: 'h2' }));
    const run = await runCli(['run', pb, '-i', inventory, '--plain', '--json', join(work, 'fail.json')]);
    expect(run.code).toBe(2);
    const rep = readReport(join(work, 'fail.json'));
    expect(rep.hosts.find((h) => h.host === 'h2')?.state).toBe('rolled-back');
    expect(snapAll().h2).toEqual(before.h2);
    expect(readFileSync(join(hostRoot('h1'), 'etc/app/conf.d/third.conf'), 'utf8')).toBe('third\n');
    expect(run.stdout).toContain('rolled back');
  });

  it('max_fail_percentage breached rolls back every host of the play', async () => {
    seedHosts();
    const before = snapAll();
    const pb = writePlaybook('breach.yaml', PLAYBOOK({ failOn: 'h3', maxFail: 0 }));
    const run = await runCli(['run', pb, '-i', inventory, '--plain', '--json', join(work, 'breach.json')]);
    expect(run.code).toBe(2);
    const rep = readReport(join(work, 'breach.json'));
    expect(rep.hosts.map((h) => h.state).sort()).toEqual(['rolled-back', 'rolled-back', 'rolled-back']);
    expect(snapAll()).toEqual(before);
  });

  it('SIGKILL of the controller mid-run, then `rollback <id>`, restores every host', async () => {
    seedHosts();
    const before = snapAll();
    const pb = writePlaybook('slow.yaml', PLAYBOOK({ sleep: 3 }));
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/cli.ts', 'run', pb, '-i', inventory, '--plain'], {
      env: { ...process.env, FLEETPLAY_HOME: join(work, '.fleetplay') },
      stdio: 'ignore',
    });
    const runsDir = join(work, '.fleetplay', 'runs');
    const seen = new Set(existsSync(runsDir) ? readdirSync(runsDir) : []);
    let runId = '';
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const fresh = existsSync(runsDir) ? readdirSync(runsDir).filter((d) => !seen.has(d)) : [];
      if (fresh[0]) {
        runId = fresh[0];
        const j = join(runsDir, runId, 'journal.jsonl');
        if (existsSync(j) && (readFileSync(j, 'utf8').match(/"t":"undo"/g) ?? []).length >= 9) break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.on('close', r));
    expect(runId).not.toBe('');
    expect(snapAll()).not.toEqual(before);
    const rb = await runCli(['rollback', runId]);
    expect(rb.code, rb.stdout + rb.stderr).toBe(0);
    expect(snapAll()).toEqual(before);
    const again = await runCli(['rollback', runId]);
    expect(again.stdout).toContain('nothing to roll back');
  });
});
