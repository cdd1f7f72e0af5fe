import { beforeAll, describe, expect, it } from 'vitest';
import { verifyTask, keyFileProblem } from '../../../src/tasks/verify.js';
import { createCrl } from '../../../src/pki/crl.js';
import type { RemoteStat } from '../../../src/transport/types.js';
import { FakeHost } from '../../support/fake-probe.js';
import { planOn } from '../../support/fake-steps.js';
import { makeIntermediate, makeLeaf, makeRoot, withPkeyProbe } from '../pki/fixtures.js';
import type { TestCa, TestLeaf } from '../pki/fixtures.js';

let root: TestCa;
let inter: TestCa;
let leaf: TestLeaf;
let other: TestLeaf;
let crls: { root: string; inter: string };
beforeAll(async () => {
  root = await makeRoot('Corp Root');
  inter = await makeIntermediate('Corp Intermediate', root);
  leaf = await makeLeaf('agent3', inter);
  other = await makeLeaf('agent4', inter);
  crls = { root: await createCrl({ ca: root, days: 30 }), inter: await createCrl({ ca: inter, days: 30 }) };
});

function host(o: { keyMode?: number; keyUid?: number; crl?: string; certFile?: string } = {}): FakeHost {
  const h = withPkeyProbe(new FakeHost('agent3'));
  h.file('/root/.pem/agent3.crt', o.certFile ?? leaf.certPem + inter.certPem);
  h.file('/root/.pem/agent3.key', leaf.key.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: o.keyMode ?? 0o600, uid: o.keyUid ?? 0 });
  h.file('/pgdata/root.crt', root.certPem);
  if (o.crl !== undefined) h.file('/pgdata/root.crl', o.crl);
  return h;
}
const BASE = { cert: '/root/.pem/agent3.crt', key: '/root/.pem/agent3.key', ca_bundle: '/pgdata/root.crt' };

describe('verify', () => {
  it('passes with a reason when everything is right', async () => {
    const p = await planOn(verifyTask, host({ crl: '' }), { ...BASE, cn: 'agent3', min_days: 30, role: 'libpq_client_key' });
    expect(p.failed).toBeUndefined();
    expect(p.reason).toMatch(/^agent3\.crt: chain OK to \/O=Fleet Test\/CN=Corp Root, key matches, 36\d days left$/);
  });

  it('a missing certificate fails a run; a dry run says it cannot verify it yet', async () => {
    const args = { ...BASE, cert: '/root/.pem/common.crt' };
    const p = await planOn(verifyTask, host(), args);
    expect(p.failed).toBe('/root/.pem/common.crt does not exist');
    const c = await planOn(verifyTask, host(), args, { check: true });
    expect(c.failed).toBeUndefined();
    expect(c.changed).toBe(false);
    expect(c.reason).toMatch(/^not verified in a dry run: \/root\/.pem\/common\.crt does not exist yet/);
  });

  it('says what PostgreSQL would say when root.crl lacks a CRL from a CA in the chain', async () => {
    const p = await planOn(verifyTask, host({ crl: crls.root }), { ...BASE, crl: '/pgdata/root.crl' });
    expect(p.failed).toBe(
      "agent3.crt would be refused with 'tlsv1 alert unknown ca': root.crl has no CRL from O=Fleet Test, CN=Corp Intermediate, the issuer of CN=agent3; either add a current CRL from every CA in the CA bundle to the CRL file, or comment out ssl_crl_file",
    );
    const ok = await planOn(verifyTask, host({ crl: crls.root + crls.inter }), { ...BASE, crl: '/pgdata/root.crl' });
    expect(ok.failed).toBeUndefined();
    const off = await planOn(verifyTask, host({ crl: crls.root }), { ...BASE, crl: '/pgdata/root.crl', crl_check: false });
    expect(off.failed).toBeUndefined();
  });

  type Setup = { certFile?: string; keyMode?: number; keyUid?: number };
  type Args = { cert?: string; cn?: string; min_days?: number; role?: string; db_user?: string; mode?: string };
  it.each<[string, Setup, Args, RegExp]>([
    ['key of another cert', { certFile: '' }, { cert: '/root/.pem/other.crt' }, /other\.crt/],
    ['wrong CN', {}, { cn: 'agent7' }, /has CN=agent3, expected CN=agent7: with cert auth the CN must equal the database user/],
    ['too few days', {}, { min_days: 400 }, /days left .* fewer than 400: renew it/],
    ['missing intermediate', { certFile: 'LEAF_ONLY' }, {}, /'tlsv1 alert unknown ca': no certificate of issuer .*append any intermediates/],
    ['group-readable client key', { keyMode: 0o640, keyUid: 1000 }, { role: 'libpq_client_key' }, /has mode 0640; libpq refuses a key with group or world access: chmod 0600/],
    ['server key owned by someone else', { keyMode: 0o600, keyUid: 1000 }, { role: 'postgres_server_key', db_user: 'postgres' }, /owned by enterprisedb; it must be owned by postgres \(0600\) or by root \(0640\)/],
    ['explicit mode', { keyMode: 0o644 }, { mode: '0600' }, /has mode 0644, expected 0600: chmod 0600/],
  ])('fails on %s with the fix', async (_n, setup, args, msg) => {
    const h = host(setup.certFile === 'LEAF_ONLY' ? { ...setup, certFile: leaf.certPem } : setup);
    if (args.cert === '/root/.pem/other.crt') h.file('/root/.pem/other.crt', other.certPem + inter.certPem);
    const p = await planOn(verifyTask, h, { ...BASE, ...args });
    expect(p.changed).toBe(false);
    expect(p.failed).toMatch(args.cert ? /other\.crt \(different public keys\)|does not match other\.crt/ : msg);
  });

  it("applies PostgreSQL's server key rule", () => {
    const st = (mode: number, uid: number, owner: string): RemoteStat => ({ path: '/k', type: 'file', mode, uid, gid: 0, owner, group: 'root', size: 1, mtimeMs: 0 });
    expect(keyFileProblem('postgres_server_key', st(0o600, 26, 'postgres'), 'postgres')).toBeUndefined();
    expect(keyFileProblem('postgres_server_key', st(0o640, 0, 'root'), 'postgres')).toBeUndefined();
    expect(keyFileProblem('postgres_server_key', st(0o644, 0, 'root'), 'postgres')).toMatch(/0640 or stricter/);
    expect(keyFileProblem('postgres_server_key', st(0o640, 26, 'postgres'), 'postgres')).toMatch(/group or world/);
    expect(keyFileProblem('libpq_client_key', st(0o400, 1000, 'x'), 'postgres')).toBeUndefined();
  });
});
