import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCertificate } from '../../../src/pki/inspect.js';
import { randomSerialHex } from '../../../src/pki/sign.js';
import { createCsr } from '../../../src/pki/csr.js';
import { generateKey } from '../../../src/pki/keys.js';
import { issueCertificate } from '../../../src/pki/sign.js';
import { makeIntermediate, makeLeaf, makeRoot } from './fixtures.js';
import type { TestCa } from './fixtures.js';
import { openssl, opensslVerify, workdir } from './referee.js';

const wd = workdir();
afterAll(() => wd.cleanup());
let rsaRoot: TestCa;
let inter: TestCa;
beforeAll(async () => {
  rsaRoot = await makeRoot('Test RSA Root', { type: 'rsa', bits: 2048 });
  inter = await makeIntermediate('Test EC Intermediate', rsaRoot);
});

describe('what we issue passes openssl verify', () => {
  it('a root CA is a CA to openssl', () => {
    const text = openssl(['x509', '-in', wd.file('root.pem', rsaRoot.certPem), '-noout', '-text']);
    expect(text).toMatch(/CA:TRUE/);
    expect(text).toMatch(/Certificate Sign, CRL Sign/);
  });

  it.each([
    ['client', 'TLS Web Client Authentication'],
    ['server', 'TLS Web Server Authentication'],
    ['both', 'TLS Web Server Authentication, TLS Web Client Authentication'],
  ] as const)('RSA leaf from the RSA root, usage %s', async (usage, eku) => {
    const leaf = await makeLeaf(`leaf-${usage}`, rsaRoot, { usage, spec: { type: 'rsa', bits: 2048 } });
    const lp = wd.file(`leaf-${usage}.pem`, leaf.certPem);
    expect(opensslVerify(['-CAfile', wd.file('root.pem', rsaRoot.certPem), lp]).ok).toBe(true);
    const purpose = usage === 'server' ? 'sslserver' : 'sslclient';
    expect(opensslVerify(['-purpose', purpose, '-CAfile', wd.file('root.pem', rsaRoot.certPem), lp]).ok).toBe(true);
    const text = openssl(['x509', '-in', lp, '-noout', '-text']);
    expect(text).toContain(eku);
    expect(text).toMatch(/CA:FALSE/);
    expect(text).toMatch(/Digital Signature, Key Encipherment/);
    expect(text).toMatch(/X509v3 Subject Key Identifier/);
    expect(text).toMatch(/X509v3 Authority Key Identifier/);
  });

  it('an EC leaf under an EC intermediate under an RSA root, intermediate in the leaf file', async () => {
    const leaf = await makeLeaf('agent3', inter);
    const lp = wd.file('agent3.pem', leaf.certPem + inter.certPem);
    expect(opensslVerify(['-CAfile', wd.file('root.pem', rsaRoot.certPem), '-untrusted', lp, lp]).ok).toBe(true);
    // without the intermediate, openssl cannot find the issuer
    const alone = opensslVerify(['-CAfile', wd.file('root.pem', rsaRoot.certPem), wd.file('agent3-only.pem', leaf.certPem)]);
    expect(alone.code).toBe(20);
  });

  it('copies SANs from the CSR only when allowed', async () => {
    const withSan = await makeLeaf('srv', rsaRoot, { usage: 'server', csrSan: ['DNS:pem.example', '127.0.0.9'], copySan: true });
    const without = await makeLeaf('srv2', rsaRoot, { usage: 'server', csrSan: ['DNS:evil.example'] });
    expect(openssl(['x509', '-noout', '-ext', 'subjectAltName'], withSan.certPem)).toContain('DNS:pem.example, IP Address:127.0.0.9');
    expect(parseCertificate(without.certPem).san).toEqual([]);
  });

  it('random positive 128-bit serials, backdated notBefore, days honoured', async () => {
    const now = new Date();
    const leaf = await makeLeaf('dates', rsaRoot, { days: 30, now });
    const info = parseCertificate(leaf.certPem);
    expect(openssl(['x509', '-noout', '-serial'], leaf.certPem).trim()).toBe(`serial=${leaf.serialHex.toUpperCase()}`);
    expect(info.serial).toHaveLength(32);
    expect(now.getTime() - info.notBefore.getTime()).toBeGreaterThanOrEqual(299_000);
    expect(Math.round((info.notAfter.getTime() - now.getTime()) / 86_400_000)).toBe(30);
    const serials = new Set(Array.from({ length: 200 }, () => randomSerialHex()));
    expect(serials.size).toBe(200);
    for (const s of serials) expect(parseInt(s.slice(0, 2), 16)).toBeLessThan(0x80);
  });

  it('refuses a CA key that does not belong to the CA certificate', async () => {
    const other = await generateKey({ type: 'ec', curve: 'P-256' });
    const csrPem = await createCsr({ key: other.privateKey, subject: '/CN=x' });
    await expect(issueCertificate({ csrPem, ca: { certPem: rsaRoot.certPem, key: other.privateKey }, days: 1, usage: 'client' })).rejects.toThrow(
      /does not match the CA certificate/,
    );
  });

  it('refuses to sign with a non-CA certificate', async () => {
    const leaf = await makeLeaf('notca', rsaRoot);
    const csrPem = await createCsr({ key: leaf.key, subject: '/CN=y' });
    await expect(issueCertificate({ csrPem, ca: { certPem: leaf.certPem, key: leaf.key }, days: 1, usage: 'client' })).rejects.toThrow(/not a CA/);
  });
});
