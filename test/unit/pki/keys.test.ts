import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { describeKey, generateKey, isEncryptedKey, parsePrivateKey, parsePublicKey, publicKeyPem, sameKey } from '../../../src/pki/keys.js';
import { isFleetError } from '../../../src/errors.js';
import { openssl, workdir } from './referee.js';

const wd = workdir();
afterAll(() => wd.cleanup());

function opensslPub(path: string, pass?: string): string {
  return openssl(['pkey', '-in', path, '-pubout', ...(pass ? ['-passin', `pass:${pass}`] : [])]);
}

describe('generateKey', () => {
  it.each([
    [{ type: 'rsa', bits: 2048 } as const, 'RSA 2048', 'Private-Key: (2048 bit'],
    [{ type: 'ec', curve: 'P-256' } as const, 'EC P-256', 'prime256v1'],
    [{ type: 'ec', curve: 'P-384' } as const, 'EC P-384', 'secp384r1'],
  ])('%o is what openssl says it is', async (spec, label, opensslSays) => {
    const k = await generateKey(spec);
    expect(describeKey(k.privateKey).label).toBe(label);
    const p = wd.file(`gen-${label.replace(' ', '')}.key`, k.privateKeyPem);
    expect(openssl(['pkey', '-in', p, '-noout', '-text_pub']) + openssl(['pkey', '-in', p, '-noout', '-text'])).toContain(opensslSays);
    expect(opensslPub(p)).toBe(k.publicKeyPem);
  });
});

describe('parsePrivateKey reads what openssl writes', () => {
  const cases: [string, string[], string | undefined][] = [
    ['PKCS#8 RSA', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'], undefined],
    ['PKCS#1 RSA', ['genrsa', '-traditional', '2048'], undefined],
    ['SEC1 EC with parameters block', ['ecparam', '-name', 'prime256v1', '-genkey'], undefined],
    ['encrypted PKCS#8', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384', '-aes256', '-pass', 'pass:s3cret'], 's3cret'],
    ['legacy encrypted PKCS#1', ['genrsa', '-traditional', '-aes128', '-passout', 'pass:s3cret', '2048'], 's3cret'],
  ];
  it.each(cases)('%s', (name, args, pass) => {
    const path = wd.file(`${name.replace(/\W/g, '_')}.key`, openssl(args));
    const text = readFileSync(path, 'utf8');
    expect(isEncryptedKey(text)).toBe(pass !== undefined);
    const key = parsePrivateKey(text, pass === undefined ? {} : { passphrase: pass });
    expect(publicKeyPem(key)).toBe(opensslPub(path, pass));
    // CRLF line endings read the same
    const crlf = parsePrivateKey(text.replace(/\n/g, '\r\n'), pass === undefined ? {} : { passphrase: pass });
    expect(sameKey(crlf, key)).toBe(true);
  });

  it('reads DER PKCS#8 and DER PKCS#1', () => {
    const pem = wd.file('der-src.key', openssl(['genrsa', '-traditional', '2048']));
    const der8 = wd.file('k8.der', '');
    openssl(['pkcs8', '-topk8', '-nocrypt', '-in', pem, '-outform', 'DER', '-out', der8]);
    const der1 = wd.file('k1.der', '');
    openssl(['rsa', '-in', pem, '-outform', 'DER', '-traditional', '-out', der1]);
    const ref = parsePrivateKey(readFileSync(pem, 'utf8'));
    expect(sameKey(parsePrivateKey(readFileSync(der8)), ref)).toBe(true);
    expect(sameKey(parsePrivateKey(readFileSync(der1)), ref)).toBe(true);
  });

  it('finds the key among several PEM blocks (cert first)', async () => {
    const k = await generateKey({ type: 'ec', curve: 'P-256' });
    const kp = wd.file('multi.key', k.privateKeyPem);
    const cert = openssl(['req', '-x509', '-new', '-key', kp, '-subj', '/CN=multi', '-days', '1', '-batch']);
    const key = parsePrivateKey(`junk text\n${cert}\n${k.privateKeyPem}`);
    expect(sameKey(key, k.privateKey)).toBe(true);
    expect(sameKey(parsePublicKey(cert), k.publicKey)).toBe(true);
  });

  it('refuses an encrypted key without or with a wrong passphrase, without leaking material', () => {
    const text = openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-aes256', '-pass', 'pass:right']);
    const body = text.split('\n')[1] ?? 'x';
    for (const opts of [{}, { passphrase: 'wrong' }]) {
      let err: unknown;
      try {
        parsePrivateKey(text, opts);
      } catch (e) {
        err = e;
      }
      expect(isFleetError(err)).toBe(true);
      const shown = `${(err as Error).message} ${String((err as { hint?: string }).hint)} ${String((err as Error).cause)}`;
      expect(shown).not.toContain(body.slice(0, 20));
      expect(shown).not.toContain('right');
    }
  });

  it('refuses text without a key block', () => {
    expect(() => parsePrivateKey('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')).toThrow(/no private key block/);
  });
});
