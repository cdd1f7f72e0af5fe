/**
 * Hostile input: values that try to escape the shell arrive as one literal argument (a canary file
 * that the injected command would create never appears), and YAML bombs (billion laughs, deep
 * nesting, huge, not UTF-8) give a clear error within bounded time.
 */
import { chmodSync, existsSync, lstatSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FULL, expectRollbackRestores, newestRun, runIds, startFaultEnv, statesOf } from './support.js';
import type { FaultEnv } from './support.js';

let env: FaultEnv;
beforeAll(async () => {
  env = await startFaultEnv(['h1']);
}, 120_000);
afterAll(async () => {
  await env?.dispose();
});

describe('shell metacharacters stay literal', () => {
  it('a path, a var and a command argument full of metacharacters run nothing', async () => {
    env.seed();
    const canary = join(env.work, 'CANARY');
    const evil = `x'; touch ${canary}; echo '$(touch ${canary})\`touch ${canary}\`\n-rf ;|&`;
    const pb = env.writePlaybook(
      'evil.yaml',
      `
- name: hostile values
  hosts: web
  vars:
    evil: ${JSON.stringify(evil)}
  tasks:
    - name: a file whose name is hostile
      copy:
        dest: "{{ root }}/etc/app/{{ evil | replace('/', '_') }}"
        content: "{{ evil }}\\n"
        mode: '0600'
    - name: an argument that is hostile
      command:
        argv: [printf, '%s', "{{ evil }}"]
      register: out
    - name: it came back unchanged
      assert:
        that: out.stdout == evil
`,
    );
    const r = await env.cli(['run', pb, '-i', env.inventory, '--plain', '--json', join(env.work, 'evil.json')]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(existsSync(canary)).toBe(false);
    const name = evil.replace(/\//g, '_');
    expect(readFileSync(join(env.root('h1'), 'etc', 'app', name), 'utf8')).toBe(`${evil}\n`);
  });
});

describe('YAML bombs', () => {
  // [name, document, expected message, open: a known failure, run only with FLEETPLAY_FAULTS_FULL=1]
  const cases: Array<[string, () => string | Buffer, RegExp, boolean?]> = [
    [
      'billion laughs',
      () => {
        const lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
        for (let i = 1; i <= 9; i++) lines.push(`a${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(',')}]`);
        return `- name: bomb\n  hosts: web\n  vars:\n${lines.map((l) => `    ${l}`).join('\n')}\n  tasks: []\n`;
      },
      /alias|too many|excessive|resource/i,
    ],
    ['deep nesting', () => `- name: deep\n  hosts: web\n  vars:\n    x: ${'['.repeat(20000)}${']'.repeat(20000)}\n  tasks: []\n`, /./],
    ['not UTF-8', () => Buffer.concat([Buffer.from('- name: '), Buffer.from([0xff, 0xfe, 0xc3, 0x28]), Buffer.from('\n  hosts: web\n  tasks: []\n')]), /UTF-8|utf-8|encoding/i],
    ['huge', () => `- name: huge\n  hosts: web\n  vars:\n    x: "${'A'.repeat(30 * 1024 * 1024)}"\n  tasks: []\n`, /MiB/],
  ];
  for (const [name, make, message, open] of cases) {
    it.skipIf(open === true && !FULL)(`${name}: a clear error, quickly, and no stack trace${open ? ' (open)' : ''}`, async () => {
      const f = join(env.work, `${name.replace(/\W+/g, '-')}.yaml`);
      writeFileSync(f, make());
      const t0 = Date.now();
      const r = await env.cli(['validate', f, '-i', env.inventory]);
      const ms = Date.now() - t0;
      expect(ms).toBeLessThan(10_000);
      expect(r.stderr).not.toMatch(/INTERNAL ERROR|\n\s+at /);
      expect(r.code, r.stdout + r.stderr).toBe(4);
      expect(r.stderr).toContain(f);
      expect(r.stderr).toMatch(message);
    }, 30_000);
  }
});

describe('path traversal and planted symlinks', () => {
  const outside = () => join(env.root('h1'), 'outside.conf');
  /** The host root minus the etc tree and backups: what must stay as it was. */
  function seedOutside(): void {
    writeFileSync(outside(), 'outside\n');
    chmodSync(outside(), 0o640);
  }

  it('symlinks planted at a key path: copy replaces the link, genkey refuses it; the link targets are untouched', async () => {
    env.seed();
    const app = join(env.root('h1'), 'etc', 'app');
    const decoy = join(env.root('h1'), 'decoy.txt');
    const decoy2 = join(env.root('h1'), 'decoy2.txt');
    for (const d of [decoy, decoy2]) {
      writeFileSync(d, 'DECOY\n');
      chmodSync(d, 0o644);
    }
    rmSync(join(app, 'server.key'));
    symlinkSync(decoy, join(app, 'server.key'));
    symlinkSync(decoy2, join(app, 'new.key'));
    const before = env.snap();
    const decoys = () => [decoy, decoy2].map((d) => `${readFileSync(d, 'utf8')} ${(lstatSync(d).mode & 0o777).toString(8)} ${lstatSync(d).isFile()}`);
    const decoysBefore = decoys();
    const pb = env.writePlaybook(
      'symlink.yaml',
      `
- name: keys where links were planted
  hosts: h1
  tasks:
    - name: copy a key over a link
      copy:
        dest: "{{ root }}/etc/app/server.key"
        content: "NEW KEY BYTES\\n"
        mode: '0600'
    - name: generate a key over a link
      genkey: { path: "{{ root }}/etc/app/new.key", type: ec }
`,
    );
    const json = join(env.work, 'symlink.json');
    const ids = runIds(env.home);
    const r = await env.cli(['run', pb, '-i', env.inventory, '--plain', '--json', json]);
    // The target files were never written through, whatever the outcome.
    expect(decoys()).toEqual(decoysBefore);
    const rep = env.report(json);
    const byTask = Object.fromEntries(rep.results.map((x) => [x.task, x]));
    // copy: the link itself is replaced by a 0600 file (until the genkey failure rolls it back).
    expect(byTask['copy a key over a link']?.status).toBe('changed');
    // genkey: refuses to touch a path that is not a regular file, naming it.
    expect(byTask['generate a key over a link']?.status).toBe('failed');
    expect(byTask['generate a key over a link']?.error ?? '').toContain(join(app, 'new.key'));
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(statesOf(rep)).toEqual({ h1: 'rolled-back' });
    // The rollback put the planted links back as links.
    expect(env.snap()).toEqual(before);
    expect(lstatSync(join(app, 'server.key')).isSymbolicLink()).toBe(true);
    await expectRollbackRestores(env, newestRun(env.home, ids)!, before);
    expect(decoys()).toEqual(decoysBefore);

    // Without the failing genkey, copy's result stays: a regular 0600 file, the decoy untouched.
    const pb2 = env.writePlaybook('symlink-copy.yaml', readFileSync(pb, 'utf8').split('    - name: generate')[0] ?? '');
    const r2 = await env.cli(['run', pb2, '-i', env.inventory, '--plain']);
    expect(r2.code, r2.stdout + r2.stderr).toBe(0);
    const st = lstatSync(join(app, 'server.key'));
    expect(st.isFile()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
    expect(readFileSync(join(app, 'server.key'), 'utf8')).toBe('NEW KEY BYTES\n');
    expect(decoys()).toEqual(decoysBefore);
  }, 120_000);

  it('a dest with .. from a var: the resolved file is backed up inside the backup dir and restored by rollback', async () => {
    env.seed();
    seedOutside();
    const before = env.snap();
    const outsideBefore = readFileSync(outside());
    const pb = env.writePlaybook(
      'dotdot.yaml',
      `
- name: a name that climbs
  hosts: h1
  tasks:
    - name: climb
      copy:
        dest: "{{ root }}/etc/app/{{ name }}"
        content: "overwritten\\n"
        mode: '0600'
`,
    );
    const ids = runIds(env.home);
    const r = await env.cli(['run', pb, '-i', env.inventory, '--plain', '-e', 'name=../../outside.conf']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(readFileSync(outside(), 'utf8')).toBe('overwritten\n');
    const id = newestRun(env.home, ids)!;
    // The backup went under this run's backup dir, nowhere else.
    const backups = join(env.root('h1'), 'backups', id);
    const copies = readdirSync(backups, { recursive: true, withFileTypes: true }).filter((d) => d.isFile());
    expect(copies.map((d) => readFileSync(join(d.parentPath, d.name), 'utf8'))).toContain('outside\n');
    expect(readdirSync(env.root('h1')).sort()).toEqual(['backups', 'decoy.txt', 'decoy2.txt', 'etc', 'outside.conf', 'step-started'].filter((n) => existsSync(join(env.root('h1'), n))).sort());
    await expectRollbackRestores(env, id, before);
    expect(readFileSync(outside())).toEqual(outsideBefore);
    expect(lstatSync(outside()).mode & 0o777).toBe(0o640);
  }, 120_000);

  it('an agent id like ../../x (agent.cfg, inventory) is refused before anything changes', async () => {
    env.seed();
    const cfg = join(env.root('h1'), 'etc', 'app', 'agent.cfg');
    writeFileSync(cfg, `[PEM/agent]\nagent_id=../../x\nagent_ssl_key=${env.root('h1')}/etc/app/agent.key\nagent_ssl_crt=${env.root('h1')}/etc/app/agent.crt\n`);
    const before = env.snap();
    const pb = env.writePlaybook(
      'agent-id.yaml',
      `
- name: files named after the agent
  hosts: h1
  tasks:
    - name: Read agent.cfg
      pem_agent_facts: { path: "{{ root }}/etc/app/agent.cfg", expect_id: "{{ pem_agent_id }}" }
      register: agent
    - name: a file named after the agent user
      copy:
        dest: "{{ root }}/etc/app/{{ agent.agent_user }}.crt"
        content: "cert\\n"
        mode: '0600'
`,
    );
    const json = join(env.work, 'agent-id.json');
    const r = await env.cli(['run', pb, '-i', env.inventory, '--plain', '--json', json, '-e', 'pem_agent_id=../../x']);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    const rep = env.report(json);
    const err = rep.results.find((x) => x.task === 'Read agent.cfg')?.error ?? '';
    expect(err).toContain(cfg);
    expect(err).toMatch(/agent_id/);
    expect(statesOf(rep)).toEqual({ h1: 'failed' });
    expect(rep.results.some((x) => x.status === 'changed')).toBe(false);
    expect(env.snap()).toEqual(before);
  }, 120_000);
});
