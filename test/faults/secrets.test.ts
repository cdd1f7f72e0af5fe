/**
 * The secrets scan: every shipped playbook, checked and run on a real PEM lab with tracer secrets
 * (the DB password from secrets.env, the bodies of the private keys on the hosts and the
 * controller before and after the runs, an extra var with a secret-looking name), and none of them
 * may appear in stdout, stderr, --json, --junit, or any file under FLEETPLAY_HOME. The run dirs are
 * 0700, their files 0600, and every key on the hosts is readable by its owner only. A `no_log` task's
 * output and a failing task's error carry no secret either.
 */
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli, startLab, stopLab } from '../support/lab-fixture.js';
import type { CliResult, E2eLab } from '../support/lab-fixture.js';
import { FULL } from './support.js';

vi.setConfig({ testTimeout: 900_000, hookTimeout: 300_000 });

const TRACER = `TRACER-${process.pid}-xyz-Q7`;
/** Never in any input: a no_log task computes it on the host. */
const NOLOG_CANARY = 'NOLOG-CANARY-42';

let lab: E2eLab;
/** Everything the CLI printed or wrote as a report, by label. */
const outputs = new Map<string, string>();
/** Tracer strings: label → value. */
const tracers = new Map<string, string>();

/** Regular files under `dir` (no symlinks, no sockets), recursively. */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  if (!existsSync(dir)) return out;
  for (const d of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, d.name);
    if (d.isDirectory()) out.push(...filesUnder(p));
    else if (d.isFile()) out.push(p);
  }
  return out;
}

/** Files under `dir` (< 64 KiB) holding a PEM private key. */
function keyFiles(dir: string): string[] {
  return filesUnder(dir).filter((f) => {
    try {
      return statSync(f).size < 65_536 && /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(readFileSync(f, 'latin1'));
    } catch {
      return false;
    }
  });
}

/** Collect tracer lines from every key under the lab dir (hosts and controller CA): 3 random body lines each. */
function collectKeyTracers(when: string): number {
  let n = 0;
  for (const f of [...keyFiles(lab.dir), ...keyFiles(join(lab.work, 'common-agent'))]) {
    const body = readFileSync(f, 'latin1').split('\n').filter((l) => /^[A-Za-z0-9+/]{40,}$/.test(l));
    // The first body line is the same for every key of a kind (algorithm header); skip it.
    for (const i of [2, Math.floor(body.length / 2), body.length - 2]) {
      const line = body[i];
      if (line !== undefined && i > 0) tracers.set(`${when} ${f} line ${i}`, line);
    }
    n++;
  }
  return n;
}

async function cli(label: string, args: string[]): Promise<CliResult> {
  const json = join(lab.work, `${label}.json`);
  const junit = join(lab.work, `${label}.xml`);
  const r = await runCli(lab, [...args, '-i', lab.inventory, '--plain', '--json', json, '--junit', junit, '-e', `tracer_password=${TRACER}`]);
  outputs.set(`${label} stdout`, r.stdout);
  outputs.set(`${label} stderr`, r.stderr);
  for (const [what, f] of [['json', json], ['junit', junit]] as const) {
    try {
      outputs.set(`${label} ${what}`, readFileSync(f, 'utf8'));
    } catch {
      outputs.set(`${label} ${what}`, '');
    }
  }
  return r;
}

const FAST = ['-e', 'pem_key_size=2048'];
/** [playbook, extra args]; ordered so that each finds the lab it needs. */
function plan(): Array<[string, string[]]> {
  const all: Array<[string, string[]]> = [
    ['pem-validate.yaml', []],
    ['pem-regenerate-agents.yaml', [...FAST, '-e', 'pem_agent_renew_days=400']],
    ['pem-common-agent-cert.yaml', [...FAST, '-e', `pem_common_agent_dir=${join(lab.work, 'common-agent')}`]],
    ['pem-httpd-cert.yaml', FAST],
    ['pem-regenerate-server.yaml', [...FAST, '-e', 'pem_force_regenerate=true', '-e', 'pem_new_ca_cn=PEM CA secrets-scan']],
    ['pem-trusted-ca.yaml', FAST],
  ];
  // The default run keeps a fast subset: the read-only audit and the one playbook in which a key travels.
  return FULL ? all : all.filter(([p]) => ['pem-validate.yaml', 'pem-common-agent-cert.yaml'].includes(p));
}

beforeAll(async () => {
  lab = await startLab({ name: 'secrets', agents: 2, addressBase: '127.0.41.1' });
  const pw = lab.env.PEM_DB_PASSWORD;
  if (pw === undefined || pw.length < 8) throw new Error('the lab has no PEM_DB_PASSWORD in secrets.env');
  tracers.set('PEM_DB_PASSWORD', pw);
  tracers.set('tracer_password', TRACER);
  expect(collectKeyTracers('before')).toBeGreaterThanOrEqual(4);
});

afterAll(async () => {
  await stopLab(lab);
});

describe('secrets never leave their files', () => {
  it('every shipped playbook, checked and run: exit codes as expected', async () => {
    const codes: string[] = [];
    for (const [pb, args] of plan()) {
      for (const mode of ['check', 'run'] as const) {
        const r = await cli(`${mode}-${pb}`, [mode, join('playbooks', pb), ...args]);
        codes.push(`${mode} ${pb}: ${r.code}`);
        // A successful run is what exercises every output path; anything else shows why.
        expect(r.code, `${mode} ${pb}\n${r.stdout}\n${r.stderr}`).toBe(0);
      }
    }
    collectKeyTracers('after');
  });

  it('a no_log task and a failing task carry no secret', async () => {
    const agentKey = lab.state.agents[0]?.keyFile;
    expect(agentKey).toBeDefined();
    const pb = join(lab.work, 'leaky.yaml');
    writeFileSync(
      pb,
      `
- name: tasks that try to leak
  hosts: pem-server
  tasks:
    - name: quiet output
      command:
        argv: [sh, -c, 'echo "NOLOG-CANARY-$((6*7))"; echo "NOLOG-CANARY-$((6*7))" >&2; cat "$0"', ${JSON.stringify(agentKey)}]
      no_log: true
      register: quiet
    - name: the tracer in a message
      debug:
        msg: "tracer is {{ tracer_password }}"
    - name: quiet failure
      command:
        argv: [sh, -c, 'echo "NOLOG-CANARY-$((6*7))" >&2; exit 3']
      no_log: true
      ignore_errors: true
    - name: loud failure
      command:
        argv: [sh, -c, 'cat "$1"; echo "denied: $0" >&2; exit 3', "{{ tracer_password }}", ${JSON.stringify(agentKey)}]
`,
    );
    const r = await cli('leaky', ['run', pb]);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    const rep = JSON.parse(outputs.get('leaky json') ?? '{}') as { results: Array<{ task: string; status: string; error?: string }> };
    const loud = rep.results.find((x) => x.task === 'loud failure');
    expect(loud?.status).toBe('failed');
    // The failure is still explained (exit status), only the secret is masked.
    expect(loud?.error ?? '').toMatch(/3/);
    for (const [label, text] of outputs) if (label.startsWith('leaky')) expect(text, label).not.toContain(NOLOG_CANARY);
  });

  it('no tracer in stdout, stderr, --json, --junit or any file under FLEETPLAY_HOME', () => {
    const home = lab.env.FLEETPLAY_HOME ?? '';
    const sources = new Map(outputs);
    for (const f of filesUnder(home)) sources.set(f, readFileSync(f, 'latin1'));
    expect(sources.size).toBeGreaterThan(10);
    const leaks: string[] = [];
    for (const [where, text] of sources) {
      for (const [what, value] of tracers) if (text.includes(value)) leaks.push(`${what} in ${where}`);
      if (text.includes(NOLOG_CANARY)) leaks.push(`the no_log canary in ${where}`);
    }
    expect(leaks).toEqual([]);
  });

  it('run dirs are 0700 and everything in them 0600; every key on the hosts is owner-only', () => {
    const runs = join(lab.env.FLEETPLAY_HOME ?? '', 'runs');
    const ids = readdirSync(runs);
    expect(ids.length).toBeGreaterThan(0);
    const bad: string[] = [];
    for (const id of ids) {
      const dir = join(runs, id);
      if ((statSync(dir).mode & 0o777) !== 0o700) bad.push(`${dir} ${(statSync(dir).mode & 0o777).toString(8)}`);
      for (const f of filesUnder(dir)) if ((statSync(f).mode & 0o777) !== 0o600) bad.push(`${f} ${(statSync(f).mode & 0o777).toString(8)}`);
      expect(readdirSync(dir)).toContain('journal.jsonl');
    }
    for (const h of lab.state.sshd.hosts) {
      for (const f of keyFiles(h.root)) if ((statSync(f).mode & 0o077) !== 0) bad.push(`${f} ${(statSync(f).mode & 0o777).toString(8)}`);
    }
    expect(bad).toEqual([]);
  });
});
