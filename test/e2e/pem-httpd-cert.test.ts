/**
 * pem-httpd-cert.yaml on the lab: a failing configtest rolls everything back before any reload;
 * check changes nothing and predicts the run; the run makes httpd serve a trusted-CA certificate
 * (with its chain) whose key is 0600 root; a rerun changes nothing.
 */
import { readFileSync, statSync } from 'node:fs';
import { connect } from 'node:tls';
import type { PeerCertificate } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { certFacts, changedPairs, playbook, snapshotLab, startLab, stopLab } from '../support/lab-fixture.js';
import type { E2eLab } from '../support/lab-fixture.js';

// Whole playbook runs on a real lab; on a loaded 2-core machine that takes a while.
vi.setConfig({ testTimeout: 240_000 });

const PB = 'pem-httpd-cert.yaml';
const FAST = ['-e', 'pem_key_size=2048'];
let lab: E2eLab;

function served(address: string, port: number): Promise<{ leaf: PeerCertificate; chainLength: number }> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: address, port, servername: 'pem-server', rejectUnauthorized: false }, () => {
      const leaf = s.getPeerCertificate(true);
      let n = 1;
      let c = leaf;
      while (c.issuerCertificate && c.issuerCertificate !== c && n < 5) {
        n++;
        c = c.issuerCertificate;
      }
      s.end();
      resolve({ leaf, chainLength: n });
    });
    s.once('error', reject);
  });
}

const withoutBackups = (snap: Record<string, Record<string, string>>) =>
  Object.fromEntries(Object.entries(snap).map(([h, s]) => [h, Object.fromEntries(Object.entries(s).filter(([p]) => !p.startsWith('var/backups')))]));

beforeAll(async () => {
  lab = await startLab({ name: 'httpd', agents: 1, addressBase: '127.0.31.1' });
});

afterAll(async () => {
  await stopLab(lab);
});

describe('pem-httpd-cert.yaml', () => {
  it('a failing configtest: nothing is reloaded and every file is put back', async () => {
    const httpd = lab.state.httpd!;
    const before = withoutBackups(snapshotLab(lab));
    const oldServed = await served(httpd.address, httpd.port);
    const r = await playbook(lab, 'run', PB, [...FAST, '-e', '{"pem_httpd_configtest": ["sh", "-c", "echo Syntax error >&2; exit 1"]}']);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.report.hosts.find((h) => h.host === 'pem-server')?.state).toBe('rolled-back');
    expect(r.report.results.find((x) => x.task.startsWith('Reload httpd'))).toBeUndefined();
    expect(withoutBackups(snapshotLab(lab))).toEqual(before);
    expect((await served(httpd.address, httpd.port)).leaf.fingerprint256).toBe(oldServed.leaf.fingerprint256);
  });

  it('check changes nothing and lists exactly what the run changes; httpd then serves the new certificate; a rerun changes nothing', async () => {
    const httpd = lab.state.httpd!;
    const before = snapshotLab(lab);
    const check = await playbook(lab, 'check', PB, FAST);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(snapshotLab(lab)).toEqual(before);

    const run = await playbook(lab, 'run', PB, FAST);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(changedPairs(run.report)).toEqual(changedPairs(check.report));
    expect(changedPairs(run.report)).toContain('pem-server / Reload httpd (rereads the certificate and key)');

    const dir = httpd.certFile.replace(/\/[^/]+$/, '');
    const crt = `${dir}/server-pem-trusted.crt`;
    const key = `${dir}/server-pem-trusted.key`;
    const installed = certFacts(crt);
    expect(installed.issuer).toContain('CN=Corp Issuing CA 1');
    expect(installed.subject).toContain('CN=pem-server');
    const st = statSync(key);
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.uid).toBe(0);
    const conf = readFileSync(httpd.confFile, 'utf8');
    expect(conf).toContain(`SSLCertificateFile ${crt}\n`);
    expect(conf).toContain(`SSLCertificateKeyFile ${key}\n`);

    const now = await served(httpd.address, httpd.port);
    expect(now.leaf.fingerprint256).toBe(installed.fingerprint);
    expect(now.chainLength).toBeGreaterThanOrEqual(2);

    const rerun = await playbook(lab, 'run', PB, FAST);
    expect(rerun.code, rerun.stdout + rerun.stderr).toBe(0);
    expect(changedPairs(rerun.report)).toEqual([]);
  });
});
