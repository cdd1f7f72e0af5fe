/**
 * pem-common-agent-cert.yaml on the lab: a failed login puts the whole fleet back (agent.cfg and
 * files, the renewal job, the role membership; a user the run did not create is not dropped);
 * check changes nothing and predicts the run; after the run every agent heartbeats as the common
 * user with the one shared certificate; the key never shows in output or run records; a rerun
 * changes nothing.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { certFacts, changedPairs, pemQuery, playbook, snapshotLab, startLab, stopLab, waitForAgents } from '../support/lab-fixture.js';
import type { E2eLab } from '../support/lab-fixture.js';

// Whole playbook runs on a real lab; on a loaded 2-core machine that takes a while.
vi.setConfig({ testTimeout: 240_000 });

const PB = 'pem-common-agent-cert.yaml';
const USER = 'pem_agent_common_user';
const JOB = "SELECT jobenabled FROM pem.job WHERE jobname = 'Check CA certificate expiry'";
const MEMBER = `SELECT 1 FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE r.rolname = 'pem_agent' AND u.rolname = '${USER}'`;
let lab: E2eLab;
let stage: string;
let args: string[];

const withoutBackups = (snap: Record<string, Record<string, string>>) =>
  Object.fromEntries(Object.entries(snap).map(([h, s]) => [h, Object.fromEntries(Object.entries(s).filter(([p]) => !p.startsWith('var/backups')))]));

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name));
}

beforeAll(async () => {
  lab = await startLab({ name: 'common-agent', agents: 3, addressBase: '127.0.33.1' });
  stage = join(lab.work, 'common-agent');
  args = ['-e', `pem_common_agent_dir=${stage}`, '-e', 'pem_key_size=2048'];
});

afterAll(async () => {
  await stopLab(lab);
});

describe('pem-common-agent-cert.yaml', () => {
  it('a failed login rolls the fleet back; a user this run did not create is kept', async () => {
    await pemQuery(lab, `CREATE ROLE ${USER} NOLOGIN`);
    const before = withoutBackups(snapshotLab(lab));
    const r = await playbook(lab, 'run', PB, args);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.report.hosts.map((h) => h.state).sort()).toEqual(['rolled-back', 'rolled-back', 'rolled-back']);
    expect(withoutBackups(snapshotLab(lab))).toEqual(before);
    expect((await pemQuery(lab, JOB))[0]?.jobenabled).toBe(true);
    expect(await pemQuery(lab, MEMBER)).toEqual([]);
    expect(await pemQuery(lab, 'SELECT 1 FROM pg_roles WHERE rolname = $1', [USER])).toHaveLength(1);
    const agents = await waitForAgents(lab, (a) => a.cert?.subject === `CN=agent${a.id}`);
    for (const a of agents) {
      expect(a.healthy, `agent ${a.id}: ${a.lastError?.message}`).toBe(true);
      expect(a.cert?.subject).toBe(`CN=agent${a.id}`);
    }
    await pemQuery(lab, `DROP ROLE ${USER}`);
  });

  it('check predicts the run; every agent heartbeats as the common user; the key stays secret; a rerun changes nothing', async () => {
    const before = snapshotLab(lab);
    const check = await playbook(lab, 'check', PB, args);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(snapshotLab(lab)).toEqual(before);
    expect(existsSync(join(stage, `${USER}.key`))).toBe(false);
    expect((await pemQuery(lab, JOB))[0]?.jobenabled).toBe(true);

    const run = await playbook(lab, 'run', PB, args);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(changedPairs(run.report)).toEqual(changedPairs(check.report));

    const shared = certFacts(join(stage, `${USER}.crt`));
    expect(shared.subject).toBe(`CN=${USER}`);
    expect(shared.issuer).toBe('CN=PEM');
    const agents = await waitForAgents(lab, (a) => a.lastHeartbeatCert?.fingerprint === shared.fingerprint);
    for (const a of agents) {
      expect(a.healthy, `agent ${a.id}: ${a.lastError?.message}`).toBe(true);
      expect(a.lastHeartbeatCert).toEqual({ fingerprint: shared.fingerprint, subject: `CN=${USER}`, issuer: 'CN=PEM' });
    }
    const beats = await pemQuery(lab, 'SELECT DISTINCT ON (agent_id) agent_id, db_user FROM pem.agent_heartbeat ORDER BY agent_id, at DESC');
    expect(beats.map((b) => b.db_user)).toEqual([USER, USER, USER]);

    const keyText = readFileSync(join(stage, `${USER}.key`), 'utf8');
    expect(statSync(stage).mode & 0o777).toBe(0o700);
    for (const a of lab.state.agents) {
      const cfg = readFileSync(a.cfgFile, 'utf8');
      const key = join(a.certDir, `${USER}.key`);
      expect(cfg).toContain(`agent_user=${USER}\n`);
      expect(cfg).toContain(`agent_ssl_key=${key}\n`);
      expect(cfg).toContain(`agent_ssl_crt=${join(a.certDir, `${USER}.crt`)}\n`);
      expect(readFileSync(key, 'utf8')).toBe(keyText);
      const st = statSync(key);
      expect(st.mode & 0o777).toBe(0o600);
      expect(st.uid).toBe(0);
    }
    expect((await pemQuery(lab, JOB))[0]?.jobenabled).toBe(false);
    expect(await pemQuery(lab, MEMBER)).toHaveLength(1);

    const body = keyText.split('\n')[1] ?? 'unused';
    expect(body.length).toBeGreaterThan(20);
    for (const out of [check.stdout, check.stderr, run.stdout, run.stderr]) expect(out).not.toContain(body);
    for (const f of filesUnder(lab.env.FLEETPLAY_HOME ?? '')) expect(readFileSync(f, 'utf8'), f).not.toContain(body);

    const rerun = await playbook(lab, 'run', PB, args);
    expect(rerun.code, rerun.stdout + rerun.stderr).toBe(0);
    expect(changedPairs(rerun.report)).toEqual([]);
  });
});
