/**
 * The main job on the lab: the trusted-CA migration. What an operator cares about: the stale-CRL
 * trap stops before any change; a fault mid-migration puts every host back (server included) and the
 * agents heartbeat again with their old certificates; check changes nothing and predicts the run;
 * after the run the server presents the new chain and every agent heartbeats with a certificate from
 * the trusted CA; a rerun changes nothing; `rollback <id>` restores the self-signed fleet.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

// Each test drives whole playbook runs on a real lab; on a loaded 2-core machine that takes a while.
vi.setConfig({ testTimeout: 240_000 });
import { labStatus } from '../../src/lab/lab.js';
import { probeTls } from '../../src/tasks/tls_probe.js';
import { runCli, startLab, stopLab } from '../support/lab-fixture.js';
import type { E2eLab } from '../support/lab-fixture.js';
import { snapshotTree } from '../support/snapshot.js';

const PLAYBOOK = 'playbooks/pem-trusted-ca.yaml';
let lab: E2eLab;
let dir: string;
let home: string;
let dbPort: number;

/** The certificate-related files of every lab host: what the migration may touch. */
function fleetFiles(): Record<string, string> {
  const snap = snapshotTree(join(dir, 'hosts'));
  return Object.fromEntries(
    Object.entries(snap).filter(([p]) => /(\.(crt|key|crl|csr)|agent\.cfg|postgresql\.conf|pg_hba\.conf)$/.test(p) && !p.includes('/backups/') && !p.includes('var/backups')),
  );
}

async function cli(args: string[]): Promise<{ code: number | null; out: string }> {
  const r = await runCli(lab, args);
  return { code: r.code, out: r.stdout + r.stderr };
}

function run(kind: 'run' | 'check', json: string, extra: string[] = []) {
  return cli([kind, PLAYBOOK, '-i', join(dir, 'inventory.yaml'), '--plain', '--json', join(home, json), '-e', 'pem_key_size=2048', ...extra]);
}

function changed(json: string): string[] {
  const r = JSON.parse(readFileSync(join(home, json), 'utf8')) as { results: Array<{ host: string; task: string; status: string; item?: string }> };
  return r.results.filter((x) => x.status === 'changed').map((x) => `${x.host} / ${x.task}`).sort();
}

/** Wait until every agent has heartbeated after `since` with a certificate whose issuer matches. */
async function agentsHeartbeatWith(issuer: RegExp, since: Date, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const st = await labStatus(dir);
    const ok = st.agents.every((a) => a.lastHeartbeat !== null && new Date(a.lastHeartbeat) > since && issuer.test(a.lastHeartbeatCert?.issuer ?? ''));
    if (ok) return;
    last = st.agents.map((a) => `agent${a.id}: ${a.lastHeartbeat} ${a.lastHeartbeatCert?.issuer} ${a.lastError?.message ?? ''}`).join('\n');
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`agents did not heartbeat with ${issuer} since ${since.toISOString()}:\n${last}`);
}

async function servedIssuer(): Promise<string> {
  const facts = await probeTls({ host: '127.0.0.1', port: dbPort, protocol: 'postgres', timeout_ms: 5000 });
  return facts.issuer;
}

beforeAll(async () => {
  lab = await startLab({ name: 'trusted-ca', agents: 3, addressBase: '127.0.35.2' });
  dir = lab.dir;
  home = lab.work;
  if (!lab.state.db) throw new Error('lab has no database');
  dbPort = lab.state.db.port;
}, 240_000);

afterAll(async () => {
  await stopLab(lab);
});

describe('pem-trusted-ca.yaml on the lab', () => {
  it('stops at the stale-CRL trap before any change, naming the file and both fixes', async () => {
    const before = fleetFiles();
    const r = await run('run', 'trap.json', ['-e', 'trusted_ca_crls=']);
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/ssl_crl_file = 'root\.crl' \(set in .*postgresql\.conf line \d+\)/);
    expect(r.out).toContain("'tlsv1 alert unknown ca'");
    expect(r.out).toContain('set trusted_ca_crls');
    expect(r.out).toContain('pem_disable_crl=true');
    expect(changed('trap.json')).toEqual([]);
    expect(fleetFiles()).toEqual(before);
  });

  it('a fault on one agent mid-migration rolls back every host, server included; agents keep their old certificates', async () => {
    const before = fleetFiles();
    const certDir = join(dir, 'hosts', 'agent3', 'root', '.pem');
    spawnSync('chattr', ['+i', certDir]);
    const started = new Date();
    let r: { code: number | null; out: string };
    try {
      r = await run('run', 'fault.json', []);
    } finally {
      spawnSync('chattr', ['-i', certDir]);
    }
    expect(r.code, r.out).toBe(2);
    const rep = JSON.parse(readFileSync(join(home, 'fault.json'), 'utf8')) as { hosts: Array<{ host: string; state: string }> };
    expect(Object.fromEntries(rep.hosts.map((h) => [h.host, h.state]))).toEqual({ 'pem-server': 'rolled-back', agent2: 'rolled-back', agent3: 'rolled-back' });
    expect(fleetFiles()).toEqual(before);
    expect(await servedIssuer()).toMatch(/CN=PEM/);
    await agentsHeartbeatWith(/CN=PEM$/, started);
  });

  it('check changes nothing and lists exactly what the run changes; agents then heartbeat with the trusted CA', async () => {
    const before = fleetFiles();
    const c = await run('check', 'check.json');
    expect(c.code, c.out).toBe(0);
    expect(fleetFiles()).toEqual(before);

    const started = new Date();
    const r = await run('run', 'run.json');
    expect(r.code, r.out).toBe(0);
    expect(changed('check.json')).toEqual(changed('run.json'));
    expect(changed('run.json').length).toBeGreaterThan(10);

    expect(await servedIssuer()).toMatch(/CN=Corp Issuing CA 1/);
    await agentsHeartbeatWith(/CN=Corp Issuing CA 1/, started);
    const data = join(dir, 'hosts', 'pem-server', 'var', 'lib', 'edb', 'as15', 'data');
    const pg = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim();
    const pgGroup = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim();
    for (const f of ['server.key', 'server.crt', 'root.crt', 'root.crl']) {
      const st = statSync(join(data, f));
      expect([f, st.mode & 0o777, String(st.uid), String(st.gid)]).toEqual([f, 0o600, pg, pgGroup]);
    }
    for (const a of ['agent2', 'agent3']) {
      const st = statSync(join(dir, 'hosts', a, 'root', '.pem', `${a}.key`));
      expect(st.mode & 0o777).toBe(0o600);
    }
    const runId = (JSON.parse(readFileSync(join(home, 'run.json'), 'utf8')) as { runId: string }).runId;
    const backup = join(dir, 'hosts', 'pem-server', 'var', 'backups', 'fleetplay', runId);
    expect(statSync(backup).mode & 0o777).toBe(0o700);
  });

  it('a rerun changes nothing', async () => {
    const r = await run('run', 'rerun.json');
    expect(r.code, r.out).toBe(0);
    expect(changed('rerun.json')).toEqual([]);
  });

  it('rollback <id> restores the self-signed fleet and the agents heartbeat with their old certificates', async () => {
    const runId = (JSON.parse(readFileSync(join(home, 'run.json'), 'utf8')) as { runId: string }).runId;
    const plan = await cli(['rollback', runId, '--check']);
    expect(plan.code, plan.out).toBe(0);
    expect(plan.out).toContain('restore');
    const started = new Date();
    const r = await cli(['rollback', runId]);
    expect(r.code, r.out).toBe(0);
    expect(await servedIssuer()).toMatch(/CN=PEM/);
    await agentsHeartbeatWith(/CN=PEM$/, started);
  });

  it('dual trust keeps every agent connected throughout: no agent is ever refused', async () => {
    const started = new Date();
    const r = await run('run', 'dual.json', ['-e', 'pem_dual_trust=true']);
    expect(r.code, r.out).toBe(0);
    await agentsHeartbeatWith(/CN=Corp Issuing CA 1/, started);
    const st = await labStatus(dir);
    const refused = st.agents.filter((a) => a.lastError !== null && new Date(a.lastError.at) >= started);
    expect(refused.map((a) => `agent${a.id}: ${a.lastError?.message}`)).toEqual([]);
    expect(await servedIssuer()).toMatch(/CN=Corp Issuing CA 1/);
    const root = readFileSync(join(dir, 'hosts', 'pem-server', 'var', 'lib', 'edb', 'as15', 'data', 'root.crt'), 'utf8');
    expect(root.match(/BEGIN CERTIFICATE/g)?.length).toBe(2);
  });
});
