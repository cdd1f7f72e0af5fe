import { beforeAll, describe, expect, it } from 'vitest';
import { certInfoTask } from '../../../src/tasks/cert_info.js';
import { createCrl } from '../../../src/pki/crl.js';
import { FakeHost } from '../../support/fake-probe.js';
import { planOn } from '../../support/fake-steps.js';
import { makeLeaf, makeRoot, withPkeyProbe } from '../pki/fixtures.js';
import type { TestCa, TestLeaf } from '../pki/fixtures.js';

let root: TestCa;
let leaf: TestLeaf;
let h: FakeHost;
beforeAll(async () => {
  root = await makeRoot('Corp Root');
  leaf = await makeLeaf('agent1', root, { days: 100 });
  h = withPkeyProbe(new FakeHost());
  h.file('/p/agent1.crt', leaf.certPem).file('/p/agent1.csr', leaf.csrPem).file('/p/root.crl', await createCrl({ ca: root, days: 10 }));
  h.file('/p/agent1.key', leaf.key.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600 });
  // `type: auto` sniffs only the BEGIN line with grep
  h.on(['grep'], (argv) => {
    const m = /-----BEGIN [A-Z0-9 ]+-----/.exec(h.content(argv[argv.length - 1] ?? '') ?? '');
    return m ? { stdout: `${m[0]}\n` } : { exitCode: 1 };
  });
});

describe('cert_info', () => {
  it('registers certificate facts and never changes anything', async () => {
    const p = await planOn(certInfoTask, h, { path: '/p/agent1.crt' });
    expect(p.changed).toBe(false);
    expect(p.steps).toEqual([]);
    expect(p.reason).toBe('/p/agent1.crt: /CN=agent1, issued by Corp Root, 99 days left');
    expect(p.result).toMatchObject({ type: 'cert', cn: 'agent1', issuer_cn: 'Corp Root', days_left: 99, key: 'EC P-256', is_ca: false, count: 1, mode: '0644' });
    expect(String(p.result?.fingerprint_sha256)).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });

  it('gives only public facts for a key, without reading it to the controller', async () => {
    let read = false;
    const spy = Object.create(h) as FakeHost;
    spy.readFile = async (p: string) => {
      if (p.endsWith('.key')) read = true;
      return h.readFile(p);
    };
    const p = await planOn(certInfoTask, spy, { path: '/p/agent1.key' });
    expect(read).toBe(false);
    expect(p.result).toMatchObject({ type: 'key', key: 'EC P-256', curve: 'P-256' });
    expect(JSON.stringify(p)).not.toContain('PRIVATE KEY');
  });

  it('reads CSRs and CRLs, and reports a missing file as a fact', async () => {
    expect((await planOn(certInfoTask, h, { path: '/p/agent1.csr' })).result).toMatchObject({ type: 'csr', cn: 'agent1' });
    const crl = await planOn(certInfoTask, h, { path: '/p/root.crl' });
    expect(crl.reason).toBe('/p/root.crl: 1 CRL(s) from Corp Root');
    expect((await planOn(certInfoTask, h, { path: '/p/none.crt' })).result).toEqual({ exists: false, path: '/p/none.crt' });
  });
});
