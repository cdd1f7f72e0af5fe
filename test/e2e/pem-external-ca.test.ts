/**
 * The trusted-CA migration with an external CA: the CSRs are exported and the run pauses (exit 10);
 * the operator drops the signed certificates in; `resume` continues and completes the migration;
 * a certificate for the wrong key is refused before anything is installed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

// Each test drives whole playbook runs on a real lab; on a loaded 2-core machine that takes a while.
vi.setConfig({ testTimeout: 240_000 });
import { labStatus } from '../../src/lab/lab.js';
import { runCli, startLab, stopLab } from '../support/lab-fixture.js';
import type { E2eLab } from '../support/lab-fixture.js';

let lab: E2eLab;
let dir: string;
let home: string;
let ext: string;

async function cli(args: string[]): Promise<{ code: number | null; out: string }> {
  const r = await runCli(lab, args);
  return { code: r.code, out: r.stdout + r.stderr };
}

/** The external CA at work: sign every exported CSR that has no certificate yet. */
function signExported(): string[] {
  const ca = join(dir, 'corporate-ca');
  const signed: string[] = [];
  for (const f of readdirSync(ext).filter((n) => n.endsWith('.csr'))) {
    const base = join(ext, f.slice(0, -4));
    if (existsSync(`${base}.crt`)) continue;
    const extFile = join(ext, 'ext.cnf');
    writeFileSync(extFile, `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=${base.endsWith('-server') ? 'serverAuth' : 'clientAuth'}\n`);
    const serial = `0x${spawnSync('openssl', ['rand', '-hex', '16'], { encoding: 'utf8' }).stdout.trim()}`;
    const r = spawnSync('openssl', ['x509', '-req', '-in', `${base}.csr`, '-CA', join(ca, 'issuing-ca.crt'), '-CAkey', join(ca, 'issuing-ca.key'), '-set_serial', serial, '-days', '365', '-extfile', extFile, '-out', `${base}.crt`]);
    expect(r.status).toBe(0);
    signed.push(f);
  }
  return signed;
}

beforeAll(async () => {
  lab = await startLab({ name: 'external-ca', agents: 3, addressBase: '127.0.36.2' });
  dir = lab.dir;
  home = lab.work;
  ext = mkdtempSync(join(lab.work, 'csrs-'));
}, 240_000);

afterAll(async () => {
  await stopLab(lab);
});

describe('pem-trusted-ca.yaml with an external CA', () => {
  it('exports CSRs, pauses, and completes on resume once the signed certificates are dropped in', async () => {
    const first = await cli(['run', 'playbooks/pem-trusted-ca.yaml', '-i', join(dir, 'inventory.yaml'), '--plain', '-e', 'pem_key_size=2048', '-e', `trusted_ca_external_dir=${ext}`, '--json', join(home, 'r1.json')]);
    expect(first.code, first.out).toBe(10);
    const runId = (JSON.parse(readFileSync(join(home, 'r1.json'), 'utf8')) as { runId: string }).runId;
    expect(first.out).toContain(`fleetplay resume ${runId}`);
    expect(readdirSync(ext)).toEqual(['pem-server-server.csr']);

    // A certificate for another key is refused, and nothing is installed.
    writeFileSync(join(ext, 'pem-server-server.crt'), readFileSync(join(dir, 'corporate-ca', 'issuing-ca.crt')));
    const wrong = await cli(['resume', runId, '--plain']);
    expect(wrong.code).toBe(2);
    expect(wrong.out).toContain('is not for the key of');
    spawnSync('rm', ['-f', join(ext, 'pem-server-server.crt')]);

    // The failed resume rolled the server back; start again from scratch for a clean run.
    const again = await cli(['run', 'playbooks/pem-trusted-ca.yaml', '-i', join(dir, 'inventory.yaml'), '--plain', '-e', 'pem_key_size=2048', '-e', `trusted_ca_external_dir=${ext}`, '--json', join(home, 'r2.json')]);
    expect(again.code, again.out).toBe(10);
    const runId2 = (JSON.parse(readFileSync(join(home, 'r2.json'), 'utf8')) as { runId: string }).runId;
    spawnSync('rm', ['-f', join(ext, 'pem-server-server.csr')]);
    const reexport = await cli(['resume', runId2, '--plain']);
    expect(reexport.code, reexport.out).toBe(10);
    expect(signExported()).toEqual(['pem-server-server.csr']);
    const agents = await cli(['resume', runId2, '--plain']);
    expect(agents.code, agents.out).toBe(10);
    expect(signExported().sort()).toEqual(['agent2-agent2.csr', 'agent3-agent3.csr', 'pem-server-agent1.csr']);
    const started = new Date();
    const done = await cli(['resume', runId2, '--plain']);
    expect(done.code, done.out).toBe(0);

    const deadline = Date.now() + 20_000;
    let ok = false;
    while (!ok && Date.now() < deadline) {
      const st = await labStatus(dir);
      ok = st.agents.every((a) => a.lastHeartbeat !== null && new Date(a.lastHeartbeat) > started && /Corp Issuing CA 1/.test(a.lastHeartbeatCert?.issuer ?? ''));
      if (!ok) await new Promise((r) => setTimeout(r, 500));
    }
    expect(ok).toBe(true);
  });
});
