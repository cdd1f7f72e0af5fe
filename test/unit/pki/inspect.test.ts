import { afterAll, describe, expect, it } from 'vitest';
import { daysLeft, parseCertificate, parseCertificates, publicKeyMatches } from '../../../src/pki/inspect.js';
import { parsePrivateKey } from '../../../src/pki/keys.js';
import { makeRoot } from './fixtures.js';
import { openssl, opensslDate, workdir } from './referee.js';

const wd = workdir();
afterAll(() => wd.cleanup());

function opensslCert(kind: 'rsa' | 'ec', subj: string): { cert: string; key: string } {
  const key = wd.file(`${kind}.key`, kind === 'rsa' ? openssl(['genrsa', '2048']) : openssl(['ecparam', '-name', 'secp384r1', '-genkey']));
  const cert = openssl(['req', '-x509', '-new', '-key', key, '-subj', subj, '-days', '400', '-sha256', '-batch', '-addext', 'subjectAltName=DNS:s.example']);
  return { cert, key };
}

describe('what openssl issues we parse identically', () => {
  it.each([
    ['rsa', '/C=IN/ST=MH/O=PEM/CN=pem.example', 'RSA 2048'],
    ['ec', '/C=NO/O=Fleet/OU=Ops/CN=CA, with comma', 'EC P-384'],
  ] as const)('%s', (kind, subj, label) => {
    const { cert, key } = opensslCert(kind, subj);
    const p = wd.file(`${kind}.pem`, cert);
    const info = parseCertificate(cert);
    const q = (...a: string[]): string => openssl(['x509', '-in', p, '-noout', ...a]).trim();
    expect(`subject=${info.subject}`).toBe(q('-subject', '-nameopt', 'compat'));
    expect(`issuer=${info.issuer}`).toBe(q('-issuer', '-nameopt', 'compat'));
    expect(`subject=${info.subjectOneline}`).toBe(q('-subject'));
    expect(`serial=${info.serial}`).toBe(q('-serial'));
    expect(`sha256 Fingerprint=${info.fingerprintSha256}`).toBe(q('-fingerprint', '-sha256'));
    expect(info.notBefore.getTime()).toBe(opensslDate(q('-startdate')).getTime());
    expect(info.notAfter.getTime()).toBe(opensslDate(q('-enddate')).getTime());
    expect(info.key.label).toBe(label);
    expect(info.isCA).toBe(true);
    expect(info.selfIssued).toBe(true);
    expect(info.san).toEqual([{ type: 'dns', value: 's.example' }]);
    expect(daysLeft(info, info.notBefore)).toBe(400);
    expect(publicKeyMatches(info, parsePrivateKey(openssl(['pkey', '-in', key])))).toBe(true);
  });
});

describe('bundles and key matching', () => {
  it('parses every CA in a root.crt bundle, CRLF and text between blocks included', async () => {
    const a = await makeRoot('Old CA');
    const b = await makeRoot('New CA');
    const bundle = `Old CA\n${a.certPem}\nNew CA\n${b.certPem}`.replace(/\n/g, '\r\n');
    expect(parseCertificates(bundle).map((c) => c.cn)).toEqual(['Old CA', 'New CA']);
    expect(publicKeyMatches(parseCertificate(a.certPem), b.key)).toBe(false);
    expect(publicKeyMatches(parseCertificate(a.certPem), a.key)).toBe(true);
  });

  it('reads DER', () => {
    const { cert } = opensslCert('ec', '/CN=der');
    const der = Buffer.from(cert.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    expect(parseCertificates(der)[0]?.cn).toBe('der');
  });

  it('fails with a clear error on a file with no certificate', () => {
    expect(() => parseCertificate('hello')).toThrow(/no certificate found/);
  });
});
