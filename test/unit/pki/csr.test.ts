import { afterAll, describe, expect, it } from 'vitest';
import { createCsr, parseCsr, parseSan, verifyCsr } from '../../../src/pki/csr.js';
import { generateKey, parsePublicKey, publicKeyPem } from '../../../src/pki/keys.js';
import { parseSubject } from '../../../src/pki/names.js';
import { openssl, workdir } from './referee.js';

const wd = workdir();
afterAll(() => wd.cleanup());

describe('createCsr', () => {
  it.each([
    ['slash string', '/C=IN/ST=MH/O=PEM/CN=agent1', '/C=IN/ST=MH/O=PEM/CN=agent1'],
    ['map, C=NO stays Norway', { C: 'NO', O: 'Acme AS', CN: 'agent2' }, '/C=NO/O=Acme AS/CN=agent2'],
    ['escaped slash inside a value', '/O=R\\/D/CN=a b', '/O=R\\/D/CN=a b'],
    ['value starting with # is literal', { CN: '#1 agent' }, '/CN=#1 agent'],
  ])('%s: openssl verifies it and reads the same subject', async (_n, subject, expected) => {
    const k = await generateKey({ type: 'ec', curve: 'P-256' });
    const pem = await createCsr({ key: k.privateKey, subject, san: ['DNS:agent.example', '127.0.0.7'] });
    const p = wd.file('a.csr', pem);
    expect(openssl(['req', '-in', p, '-noout', '-verify'])).toBe('');
    expect(openssl(['req', '-in', p, '-noout', '-subject', '-nameopt', 'compat']).trim()).toBe(`subject=${expected}`);
    expect(openssl(['req', '-in', p, '-noout', '-text'])).toContain('DNS:agent.example, IP Address:127.0.0.7');
    expect(openssl(['req', '-in', p, '-noout', '-pubkey'])).toBe(k.publicKeyPem);
    expect(parseCsr(pem).subject).toBe(expected);
  });
});

describe('parseCsr and verifyCsr on openssl-made CSRs', () => {
  it('reads subject, SANs, key and verifies the signature (CRLF too)', async () => {
    const key = wd.file('r.key', openssl(['genrsa', '2048']));
    const csr = openssl(['req', '-new', '-key', key, '-subj', '/C=IN/O=PEM/CN=agent9', '-addext', 'subjectAltName=DNS:a9.example,IP:10.1.2.3', '-batch']);
    const info = parseCsr(csr.replace(/\n/g, '\r\n'));
    expect(info.subject).toBe('/C=IN/O=PEM/CN=agent9');
    expect(info.subjectMap).toEqual({ C: 'IN', O: 'PEM', CN: 'agent9' });
    expect(info.cn).toBe('agent9');
    expect(info.san).toEqual([
      { type: 'dns', value: 'a9.example' },
      { type: 'ip', value: '10.1.2.3' },
    ]);
    expect(info.key.label).toBe('RSA 2048');
    expect(await verifyCsr(csr)).toBe(true);
    expect(publicKeyPem(parsePublicKey(info.spki))).toBe(openssl(['pkey', '-in', key, '-pubout']));
  });

  it('rejects a CSR whose signature was tampered with', async () => {
    const k = await generateKey({ type: 'ec', curve: 'P-256' });
    const pem = await createCsr({ key: k.privateKey, subject: '/CN=x' });
    const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    der[der.length - 3] = (der[der.length - 3] ?? 0) ^ 0xff;
    const bad = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    expect(await verifyCsr(bad)).toBe(false);
  });
});

describe('subjects and SANs', () => {
  it('rejects bad subjects with a hint', () => {
    expect(() => parseSubject('CN=x')).toThrow(/must start with/);
    expect(() => parseSubject('/XX=1')).toThrow(/unknown subject field/);
    expect(() => parseSubject({ C: 'India' })).toThrow(/two-letter/);
    expect(() => parseSubject({ C: false as unknown as string })).toThrow(/must be a string/);
  });
  it('keeps order and long names', () => {
    expect(parseSubject({ commonName: 'a', organizationName: 'b' }).map((r) => r.type)).toEqual(['CN', 'O']);
  });
  it('classifies SANs', () => {
    expect(parseSan('10.0.0.1')).toEqual({ type: 'ip', value: '10.0.0.1' });
    expect(parseSan('::1')).toEqual({ type: 'ip', value: '::1' });
    expect(parseSan('host.example')).toEqual({ type: 'dns', value: 'host.example' });
    expect(() => parseSan('IP:nope')).toThrow(/not an IP/);
  });
});
