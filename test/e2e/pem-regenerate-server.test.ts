/**
 * pem-regenerate-server.yaml on the lab: check changes nothing and predicts the run; the run
 * makes a new CA (root.crt and root.crl then cover old and new CA), a new server certificate the
 * server serves after a reload, and no agent misses more than a couple of heartbeats; a rerun
 * changes nothing; pem-regenerate-agents.yaml afterwards moves every agent to the new CA.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseCrls } from '../../src/pki/crl.js';
import { parseCertificates } from '../../src/pki/inspect.js';
import { certFacts, changedPairs, pemQuery, playbook, snapshotLab, startLab, stopLab, waitForAgents } from '../support/lab-fixture.js';
import type { E2eLab } from '../support/lab-fixture.js';

// Whole playbook runs on a real lab; on a loaded 2-core machine that takes a while.
vi.setConfig({ testTimeout: 240_000 });

const PB = 'pem-regenerate-server.yaml';
const NEW_CA = 'PEM CA e2e';
const ARGS = ['-e', 'pem_force_regenerate=true', '-e', `pem_new_ca_cn=${NEW_CA}`, '-e', 'pem_key_size=2048'];
let lab: E2eLab;

/** The certificate PostgreSQL serves, as openssl s_client -starttls postgres sees it. */
function servedFingerprint(port: number): string {
  const out = execFileSync('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-starttls', 'postgres'], { input: '', encoding: 'utf8', stdio: ['pipe', 'pipe', 'ignore'] });
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(out)?.[0] ?? '';
  return parseCertificates(pem)[0]?.fingerprintSha256 ?? '';
}

beforeAll(async () => {
  lab = await startLab({ name: 'regen-server', agents: 3, addressBase: '127.0.34.1' });
});

afterAll(async () => {
  await stopLab(lab);
});

describe('pem-regenerate-server.yaml', () => {
  it('renews CA and server certificate with dual trust, without an agent outage; a rerun changes nothing', async () => {
    const db = lab.state.db!;
    const data = db.dataDir;
    const before = snapshotLab(lab);
    const check = await playbook(lab, 'check', PB, ARGS);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(snapshotLab(lab)).toEqual(before);

    const started = (await pemQuery(lab, 'SELECT now() AS t'))[0]?.t as Date;
    const run = await playbook(lab, 'run', PB, ARGS);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const ended = (await pemQuery(lab, 'SELECT now() AS t'))[0]?.t as Date;
    expect(changedPairs(run.report)).toEqual(changedPairs(check.report));

    // root.crt: old CA first, then the new one; root.crl: a CRL from each.
    const roots = parseCertificates(readFileSync(join(data, 'root.crt'), 'utf8'));
    expect(roots.map((c) => c.cn)).toEqual(['PEM', NEW_CA]);
    expect(parseCrls(readFileSync(join(data, 'root.crl'))).map((c) => c.issuerCn)).toEqual(['PEM', NEW_CA]);
    const ca = certFacts(join(data, 'ca_certificate.crt'));
    expect(ca.subject).toBe(`CN=${NEW_CA}`);
    const server = certFacts(join(data, 'server.crt'));
    expect(server.issuer).toBe(`CN=${NEW_CA}`);
    expect(servedFingerprint(db.port)).toBe(server.fingerprint);
    const pgUid = Number(execFileSync('id', ['-u', db.osUser], { encoding: 'utf8' }).trim());
    for (const f of ['ca_key.key', 'ca_certificate.crt', 'server.key', 'server.crt', 'root.crt', 'root.crl']) {
      const st = statSync(join(data, f));
      expect(st.mode & 0o777, f).toBe(0o600);
      expect(st.uid, f).toBe(pgUid);
    }

    // The agents kept their old certificates and never stopped heartbeating (interval 0.5 s).
    const gaps = await pemQuery(
      lab,
      `SELECT agent_id, extract(epoch FROM max(gap)) AS gap FROM (
         SELECT agent_id, at - lag(at) OVER (PARTITION BY agent_id ORDER BY at) AS gap
         FROM pem.agent_heartbeat WHERE at BETWEEN $1::timestamptz - interval '1 second' AND $2::timestamptz + interval '1 second') g
       GROUP BY agent_id ORDER BY agent_id`,
      [started, ended],
    );
    expect(gaps.map((g) => Number(g.agent_id))).toEqual([1, 2, 3]);
    for (const g of gaps) expect(Number(g.gap), `agent ${g.agent_id}`).toBeLessThan(3);
    const agents = await waitForAgents(lab, () => true);
    for (const a of agents) {
      expect(a.healthy, `agent ${a.id}: ${a.lastError?.message}`).toBe(true);
      expect(a.lastHeartbeatCert?.issuer).toBe('CN=PEM');
    }

    const rerun = await playbook(lab, 'run', PB, ARGS);
    expect(rerun.code, rerun.stdout + rerun.stderr).toBe(0);
    expect(changedPairs(rerun.report)).toEqual([]);
  });

  it('pem-regenerate-agents.yaml afterwards signs with the new CA', async () => {
    const agentsRun = await playbook(lab, 'run', 'pem-regenerate-agents.yaml', ['-e', 'pem_key_size=2048']);
    expect(agentsRun.code, agentsRun.stdout + agentsRun.stderr).toBe(0);
    const moved = await waitForAgents(lab, (a) => a.lastHeartbeatCert?.issuer === `CN=${NEW_CA}`);
    for (const a of moved) {
      expect(a.healthy, `agent ${a.id}: ${a.lastError?.message}`).toBe(true);
      expect(a.lastHeartbeatCert?.issuer).toBe(`CN=${NEW_CA}`);
      expect(a.lastHeartbeatCert?.subject).toBe(`CN=agent${a.id}`);
    }
  });
});
