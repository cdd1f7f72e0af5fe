/**
 * pem-regenerate-agents.yaml on the lab: a failure on the first agent stops the play before any
 * other agent is touched and puts that agent back; check changes nothing and predicts the run;
 * the run gives every agent a new key and certificate from the PEM CA, each agent heartbeats with
 * it; files stay 0600 root; a rerun changes nothing.
 */
import { statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { certFacts, changedPairs, pemQuery, playbook, snapshotLab, startLab, stopLab, waitForAgents } from '../support/lab-fixture.js';
import type { E2eLab } from '../support/lab-fixture.js';

// Whole playbook runs on a real lab; on a loaded 2-core machine that takes a while.
vi.setConfig({ testTimeout: 240_000 });

const PB = 'pem-regenerate-agents.yaml';
// Renew certificates with fewer than 400 days left: the lab's (365 days) all qualify.
const FORCE = ['-e', 'pem_key_size=2048', '-e', 'pem_agent_renew_days=400'];
let lab: E2eLab;

const withoutBackups = (snap: Record<string, Record<string, string>>) =>
  Object.fromEntries(Object.entries(snap).map(([h, s]) => [h, Object.fromEntries(Object.entries(s).filter(([p]) => !p.startsWith('var/backups')))]));

beforeAll(async () => {
  lab = await startLab({ name: 'regen-agents', agents: 3, addressBase: '127.0.32.1' });
});

afterAll(async () => {
  await stopLab(lab);
});

describe('pem-regenerate-agents.yaml', () => {
  it('a failed login on the first agent rolls it back and leaves the other agents untouched', async () => {
    const before = withoutBackups(snapshotLab(lab));
    await pemQuery(lab, 'ALTER ROLE agent1 NOLOGIN');
    try {
      const r = await playbook(lab, 'run', PB, FORCE);
      expect(r.code, r.stdout + r.stderr).toBe(2);
      expect(r.report.hosts.find((h) => h.host === 'pem-server')?.state).toBe('rolled-back');
      expect(r.report.results.filter((x) => x.host !== 'pem-server' && x.status === 'changed')).toEqual([]);
    } finally {
      await pemQuery(lab, 'ALTER ROLE agent1 LOGIN');
    }
    expect(withoutBackups(snapshotLab(lab))).toEqual(before);
  });

  it('check predicts the run; every agent heartbeats with its new certificate; a rerun changes nothing', async () => {
    const old = new Map(lab.state.agents.map((a) => [a.id, certFacts(a.certFile).fingerprint]));
    const before = snapshotLab(lab);
    const check = await playbook(lab, 'check', PB, FORCE);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(snapshotLab(lab)).toEqual(before);

    const run = await playbook(lab, 'run', PB, FORCE);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(changedPairs(run.report)).toEqual(changedPairs(check.report));
    for (const h of ['pem-server', 'agent2', 'agent3']) expect(changedPairs(run.report)).toContain(`${h} / Restart the agent (pemagent reads its certificate only at start)`);

    const fresh = new Map(lab.state.agents.map((a) => [a.id, certFacts(a.certFile)]));
    const agents = await waitForAgents(lab, (a) => a.lastHeartbeatCert?.fingerprint === fresh.get(a.id)?.fingerprint);
    for (const a of agents) {
      const want = fresh.get(a.id);
      expect(a.healthy, `agent ${a.id}: ${a.lastError?.message}`).toBe(true);
      expect(a.lastHeartbeatCert?.fingerprint).toBe(want?.fingerprint);
      expect(want?.fingerprint).not.toBe(old.get(a.id));
      expect(a.lastHeartbeatCert?.subject).toBe(`CN=agent${a.id}`);
      expect(a.lastHeartbeatCert?.issuer).toBe('CN=PEM');
    }
    for (const a of lab.state.agents) {
      for (const f of [a.certFile, a.keyFile]) {
        const st = statSync(f);
        expect(st.mode & 0o777, f).toBe(0o600);
        expect(st.uid, f).toBe(0);
      }
    }

    const rerun = await playbook(lab, 'run', PB, ['-e', 'pem_key_size=2048']);
    expect(rerun.code, rerun.stdout + rerun.stderr).toBe(0);
    expect(changedPairs(rerun.report)).toEqual([]);
  });
});
