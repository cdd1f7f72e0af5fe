import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCrl, parseCrls, postgresWouldAccept } from '../../../src/pki/crl.js';
import { parseCertificate } from '../../../src/pki/inspect.js';
import { makeIntermediate, makeLeaf, makeRoot } from './fixtures.js';
import type { TestCa, TestLeaf } from './fixtures.js';
import { openssl, opensslDate, opensslVerify, workdir } from './referee.js';

const wd = workdir();
afterAll(() => wd.cleanup());
const DAY = 86_400_000;

let root: TestCa;
let inter: TestCa;
let other: TestCa;
let sameName: TestCa;
let leaf: TestLeaf;
let revokedLeaf: TestLeaf;
const crl: Record<string, string> = {};

beforeAll(async () => {
  root = await makeRoot('Corp Root');
  inter = await makeIntermediate('Corp Intermediate', root);
  other = await makeRoot('Other Root');
  sameName = await makeRoot('Corp Root');
  leaf = await makeLeaf('agent1', inter);
  revokedLeaf = await makeLeaf('agent2', inter);
  const now = Date.now();
  crl.root = await createCrl({ ca: root, days: 30 });
  crl.inter = await createCrl({ ca: inter, days: 30 });
  crl.interRevoking = await createCrl({ ca: inter, days: 30, revoked: [{ serial: revokedLeaf.serialHex }] });
  crl.interExpired = await createCrl({ ca: inter, days: 1, thisUpdate: new Date(now - 10 * DAY), nextUpdate: new Date(now - DAY) });
  crl.other = await createCrl({ ca: other, days: 30 });
  crl.sameName = await createCrl({ ca: sameName, days: 30 });
});

describe('createCrl / parseCrls', () => {
  it('openssl verifies our CRL against its CA and reads the same fields', async () => {
    const p = wd.file('r.crl', crl.interRevoking!);
    expect(openssl(['crl', '-in', p, '-noout', '-CAfile', wd.file('i.pem', inter.certPem + root.certPem)], undefined)).toBe('');
    const [info] = parseCrls(crl.interRevoking!);
    expect(`issuer=${info?.issuer}`).toBe(openssl(['crl', '-in', p, '-noout', '-issuer', '-nameopt', 'compat']).trim());
    expect(info?.nextUpdate?.getTime()).toBe(opensslDate(openssl(['crl', '-in', p, '-noout', '-nextupdate'])).getTime());
    expect(openssl(['crl', '-in', p, '-noout', '-text'])).toContain(`Serial Number: ${revokedLeaf.serialHex.toUpperCase()}`);
    expect(info?.revoked.map((r) => r.serial)).toEqual([revokedLeaf.serialHex.toUpperCase()]);
  });

  it('parses several CRLs in one file, including one made by openssl ca -gencrl', () => {
    const dir = wd.dir;
    const keyP = wd.file('oca.key', openssl(['ecparam', '-name', 'prime256v1', '-genkey']));
    const certP = wd.file('oca.pem', openssl(['req', '-x509', '-new', '-key', keyP, '-subj', '/CN=OpenSSL CA', '-days', '10', '-batch']));
    wd.file('index.txt', '');
    const conf = wd.file(
      'ca.cnf',
      `[ca]\ndefault_ca=d\n[d]\ndatabase=${dir}/index.txt\ncrlnumber=${dir}/crlnumber\ndefault_md=sha256\ndefault_crl_days=7\ncertificate=${certP}\nprivate_key=${keyP}\n`,
    );
    wd.file('crlnumber', '01\n');
    const theirs = openssl(['ca', '-gencrl', '-config', conf, '-batch']);
    const all = parseCrls(`${theirs}\r\n${crl.root}`);
    expect(all.map((c) => c.issuerCn)).toEqual(['OpenSSL CA', 'Corp Root']);
    expect(Math.round(((all[0]?.nextUpdate?.getTime() ?? 0) - (all[0]?.thisUpdate.getTime() ?? 0)) / DAY)).toBe(7);
  });
});

type Case = [string, () => { leafFile: string; crls: string }, boolean, string | undefined, number | undefined];
const cases: Case[] = [
  ['a current CRL from every CA in the chain', () => ({ leafFile: leaf.certPem + inter.certPem, crls: crl.root! + crl.inter! }), true, undefined, undefined],
  ['no CRL from the intermediate', () => ({ leafFile: leaf.certPem + inter.certPem, crls: crl.root! }), false, 'unknown ca', 3],
  ['no CRL from the self-signed root', () => ({ leafFile: leaf.certPem + inter.certPem, crls: crl.inter! }), false, 'unknown ca', 3],
  ['a CRL from another CA', () => ({ leafFile: leaf.certPem + inter.certPem, crls: crl.other! + crl.inter! }), false, 'unknown ca', 3],
  ['the leaf is revoked', () => ({ leafFile: revokedLeaf.certPem + inter.certPem, crls: crl.root! + crl.interRevoking! }), false, 'certificate revoked', 23],
  ['another leaf is revoked', () => ({ leafFile: leaf.certPem + inter.certPem, crls: crl.root! + crl.interRevoking! }), true, undefined, undefined],
  ['the intermediate CRL expired', () => ({ leafFile: leaf.certPem + inter.certPem, crls: crl.root! + crl.interExpired! }), false, 'certificate expired', 12],
  ['a CRL named like the root but signed by another key', () => ({ leafFile: leaf.certPem + inter.certPem, crls: crl.sameName! + crl.inter! }), false, 'unknown ca', 3],
];

describe('postgresWouldAccept agrees with openssl verify -crl_check_all', () => {
  it.each(cases)('%s', async (_n, mk, ok, alert, code) => {
    const { leafFile, crls } = mk();
    const lf = wd.file('leaf.pem', leafFile);
    const theirs = opensslVerify(['-purpose', 'sslclient', '-crl_check_all', '-CRLfile', wd.file('root.crl', crls), '-CAfile', wd.file('root.crt', root.certPem), '-untrusted', lf, lf]);
    const ours = await postgresWouldAccept({ leafChain: leafFile, trustAnchors: root.certPem, crls });
    expect(theirs.ok).toBe(ok);
    expect(ours.ok).toBe(ok);
    if (!ours.ok) {
      expect(theirs.code).toBe(code);
      expect(ours.opensslCode).toBe(code);
      expect(ours.error).toBe(alert);
      expect(ours.detail).toMatch(/root\.crl|revoked/);
    }
  });

  it('names the missing CRL issuer in the detail', async () => {
    const v = await postgresWouldAccept({ leafChain: leaf.certPem + inter.certPem, trustAnchors: root.certPem, crls: crl.root! });
    expect(v).toMatchObject({ ok: false, error: 'unknown ca', reason: 'unable to get CRL' });
    expect(!v.ok && v.detail).toContain('root.crl has no CRL from O=Fleet Test, CN=Corp Intermediate, the issuer of CN=agent1');
  });

  it('without ssl_crl_file only the chain counts', async () => {
    expect(await postgresWouldAccept({ leafChain: leaf.certPem + inter.certPem, trustAnchors: root.certPem, crls: null })).toMatchObject({ ok: true });
  });

  it('a margin flags a CRL that expires inside the change window', async () => {
    const v = await postgresWouldAccept({ leafChain: leaf.certPem + inter.certPem, trustAnchors: root.certPem, crls: crl.root! + crl.inter!, marginSeconds: 40 * 86400 });
    expect(v).toMatchObject({ ok: false, reason: 'CRL expired' });
  });

  it('chain errors come before CRL errors, as in OpenSSL', async () => {
    const v = await postgresWouldAccept({ leafChain: leaf.certPem, trustAnchors: root.certPem, crls: '' });
    expect(v).toMatchObject({ ok: false, error: 'unknown ca', reason: 'unable to get issuer' });
    expect(parseCertificate(leaf.certPem).cn).toBe('agent1');
  });
});
